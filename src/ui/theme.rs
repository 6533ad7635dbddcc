//! Themes: semantic colour tokens from `themes/*.toml`, degraded to what
//! the terminal can show (truecolor, 256, 16, none).

use ratatui::style::{Color, Modifier, Style};
use serde::Deserialize;

pub const BUILTIN: [(&str, &str); 4] = [
    ("dark", include_str!("../../themes/dark.toml")),
    ("light", include_str!("../../themes/light.toml")),
    ("monochrome", include_str!("../../themes/monochrome.toml")),
    (
        "high-contrast",
        include_str!("../../themes/high-contrast.toml"),
    ),
];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ColorDepth {
    TrueColor,
    Ansi256,
    Ansi16,
    None,
}

impl ColorDepth {
    /// What the environment says: NO_COLOR wins, then COLORTERM (truecolor,
    /// 24bit), then TERM (*256color*); otherwise 16 colours (tmux and SSH
    /// often drop COLORTERM).
    pub fn detect(no_color: bool, colorterm: Option<&str>, term: Option<&str>) -> ColorDepth {
        if no_color {
            return ColorDepth::None;
        }
        match (colorterm, term) {
            (Some(c), _) if c.contains("truecolor") || c.contains("24bit") => ColorDepth::TrueColor,
            (_, Some(t)) if t.contains("256") => ColorDepth::Ansi256,
            (_, Some("dumb")) => ColorDepth::None,
            _ => ColorDepth::Ansi16,
        }
    }

    pub fn parse(s: &str) -> Option<ColorDepth> {
        match s {
            "truecolor" | "24bit" => Some(ColorDepth::TrueColor),
            "256" => Some(ColorDepth::Ansi256),
            "16" => Some(ColorDepth::Ansi16),
            "none" | "0" => Some(ColorDepth::None),
            _ => None,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ThemeFile {
    name: String,
    fg: String,
    dim: String,
    header: String,
    accent: String,
    selected_bg: String,
    profit: String,
    loss: String,
    ok: String,
    warn: String,
    critical: String,
    stale: String,
}

/// Styles for each semantic token.
#[derive(Clone, Debug, PartialEq)]
pub struct Theme {
    pub name: String,
    pub text: Style,
    pub dim: Style,
    pub header: Style,
    pub accent: Style,
    pub selected: Style,
    pub profit: Style,
    pub loss: Style,
    pub ok: Style,
    pub warn: Style,
    pub critical: Style,
    pub stale: Style,
}

impl Theme {
    /// A built-in theme by name, at a colour depth.
    pub fn builtin(name: &str, depth: ColorDepth) -> Result<Theme, String> {
        let (_, text) = BUILTIN.iter().find(|(n, _)| *n == name).ok_or_else(|| {
            format!("unknown theme {name:?}; built in: dark, light, monochrome, high-contrast")
        })?;
        Theme::parse(text, depth)
    }

    pub fn parse(text: &str, depth: ColorDepth) -> Result<Theme, String> {
        let f: ThemeFile = toml::from_str(text).map_err(|e| format!("theme: {e}"))?;
        let c =
            |s: &str| color(s, depth).ok_or_else(|| format!("theme {}: bad colour {s:?}", f.name));
        let fg = |s: &str| -> Result<Style, String> { Ok(Style::default().fg(c(s)?)) };
        let mono = depth == ColorDepth::None;
        // Without colour, state still shows: bold for alarms, dim for stale.
        let bold = |s: Style| s.add_modifier(Modifier::BOLD);
        Ok(Theme {
            name: f.name.clone(),
            text: fg(&f.fg)?,
            dim: fg(&f.dim)?.add_modifier(if mono {
                Modifier::DIM
            } else {
                Modifier::empty()
            }),
            header: bold(fg(&f.header)?),
            accent: fg(&f.accent)?,
            selected: if mono {
                Style::default().add_modifier(Modifier::REVERSED)
            } else {
                Style::default().bg(c(&f.selected_bg)?)
            },
            profit: fg(&f.profit)?,
            loss: fg(&f.loss)?,
            ok: fg(&f.ok)?,
            warn: bold(fg(&f.warn)?),
            critical: bold(fg(&f.critical)?),
            stale: fg(&f.stale)?.add_modifier(Modifier::DIM),
        })
    }
}

/// "#rrggbb" or "reset", at the given depth.
fn color(s: &str, depth: ColorDepth) -> Option<Color> {
    if s == "reset" || depth == ColorDepth::None {
        return Some(Color::Reset);
    }
    let hex = s.strip_prefix('#').filter(|h| h.len() == 6)?;
    let v = u32::from_str_radix(hex, 16).ok()?;
    let (r, g, b) = ((v >> 16) as u8, (v >> 8) as u8, v as u8);
    Some(match depth {
        ColorDepth::TrueColor => Color::Rgb(r, g, b),
        ColorDepth::Ansi256 => Color::Indexed(ansi256(r, g, b)),
        _ => ansi16(r, g, b),
    })
}

/// Nearest entry of the 6×6×6 cube (16–231) or the grey ramp (232–255).
fn ansi256(r: u8, g: u8, b: u8) -> u8 {
    let level = |c: u8| if c < 48 { 0 } else if c < 115 { 1 } else { (c as u16 - 35) / 40 } as u8;
    let (lr, lg, lb) = (level(r), level(g), level(b));
    let cube = 16 + 36 * lr + 6 * lg + lb;
    if r == g && g == b {
        let grey = if r < 8 {
            16
        } else if r > 238 {
            231
        } else {
            232 + (r - 8) / 10
        };
        return grey;
    }
    cube
}

/// Nearest of the 16 basic colours by hue and brightness.
fn ansi16(r: u8, g: u8, b: u8) -> Color {
    let bright = r.max(g).max(b) > 200;
    let on = |c: u8| c > 100;
    match (on(r), on(g), on(b)) {
        (false, false, false) => {
            if bright {
                Color::DarkGray
            } else {
                Color::Black
            }
        }
        (true, false, false) => {
            if bright {
                Color::LightRed
            } else {
                Color::Red
            }
        }
        (false, true, false) => {
            if bright {
                Color::LightGreen
            } else {
                Color::Green
            }
        }
        (true, true, false) => {
            if bright {
                Color::LightYellow
            } else {
                Color::Yellow
            }
        }
        (false, false, true) => {
            if bright {
                Color::LightBlue
            } else {
                Color::Blue
            }
        }
        (true, false, true) => {
            if bright {
                Color::LightMagenta
            } else {
                Color::Magenta
            }
        }
        (false, true, true) => {
            if bright {
                Color::LightCyan
            } else {
                Color::Cyan
            }
        }
        (true, true, true) => {
            if bright {
                Color::White
            } else {
                Color::Gray
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_builtin_theme_parses_at_every_depth() {
        for (name, _) in BUILTIN {
            for depth in [
                ColorDepth::TrueColor,
                ColorDepth::Ansi256,
                ColorDepth::Ansi16,
                ColorDepth::None,
            ] {
                let t = Theme::builtin(name, depth).unwrap();
                if depth == ColorDepth::None {
                    assert_eq!(t.loss.fg, Some(Color::Reset), "{name}");
                    assert!(
                        t.critical.add_modifier.contains(Modifier::BOLD),
                        "{name}: alarms stay bold without colour"
                    );
                }
            }
        }
        assert!(Theme::builtin("neon", ColorDepth::TrueColor).is_err());
    }

    #[test]
    fn depth_detection_and_degradation() {
        assert_eq!(
            ColorDepth::detect(true, Some("truecolor"), Some("xterm-256color")),
            ColorDepth::None
        );
        assert_eq!(
            ColorDepth::detect(false, Some("truecolor"), None),
            ColorDepth::TrueColor
        );
        assert_eq!(
            ColorDepth::detect(false, None, Some("screen-256color")),
            ColorDepth::Ansi256
        );
        assert_eq!(
            ColorDepth::detect(false, None, Some("xterm")),
            ColorDepth::Ansi16
        );
        assert_eq!(
            color("#ff0000", ColorDepth::Ansi256),
            Some(Color::Indexed(196))
        );
        assert_eq!(color("#ff0000", ColorDepth::Ansi16), Some(Color::LightRed));
        assert_eq!(
            color("#808080", ColorDepth::Ansi256),
            Some(Color::Indexed(244))
        );
    }
}
