//! Applying exchange messages to the desk: one path for live data, replay
//! and reports. Every message, live or recorded, arrives as a recording
//! line (docs/recording.md); this matches responses to their requests,
//! normalizes them, creates accounts on first sight and updates the desk.

use super::validate::{self, ClockGuard, Limits};
use crate::engine::{AccountId, Desk};
use crate::exchange::clean_text;
use crate::exchange::deribit::hot::{self, HotLine};
use crate::exchange::deribit::margin_models::{known_model, model_for};
use crate::exchange::deribit::{normalize, Balance, Event};
use crate::exchange::recording::{read_capped_lines, Dir, RecordLine, MAX_LINE_BYTES};
use crate::margin::config::ModelConfig;
use crate::model::{Account, Collateral, Instrument, Position, Quote};
use serde_json::Value;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::BufRead;

/// What a replay saw, beyond the state it built.
#[derive(Clone, Debug, Default)]
pub struct ReplayStats {
    pub lines: usize,
    pub bad_lines: usize,
    pub first_bad_line: Option<usize>,
    /// Messages that did not parse, by kind, with the first reason.
    pub failures: BTreeMap<String, (usize, String)>,
    /// The newest local time seen (data age is measured from it).
    pub last_t: Option<i64>,
    /// Values refused at the validation boundary, and the first reason.
    pub rejected: usize,
    pub first_rejection: Option<String>,
    /// Lines dated more than a minute before a line already read.
    pub out_of_order: usize,
    /// Answers whose request was never seen.
    pub unmatched: usize,
    pub first_out_of_order: Option<usize>,
}

impl ReplayStats {
    /// One line per problem, for the report's warnings.
    pub fn warnings(&self) -> Vec<String> {
        let mut out = Vec::new();
        if self.bad_lines > 0 {
            out.push(format!(
                "{} recording line(s) were not valid recording entries (first: line {})",
                self.bad_lines,
                self.first_bad_line.unwrap_or(0)
            ));
        }
        for (kind, (n, why)) in &self.failures {
            out.push(format!("{n} {kind} message(s) could not be read: {why}"));
        }
        if let Some(first) = &self.first_rejection {
            out.push(format!(
                "{} value(s) rejected as implausible (first: {first})",
                self.rejected
            ));
        }
        if self.unmatched > 0 {
            out.push(format!(
                "{} answer(s) to requests the recording does not hold (is it cut, or out of order?)",
                self.unmatched
            ));
        }
        if let Some(line) = self.first_out_of_order {
            out.push(format!(
                "{} line(s) dated before earlier lines (first: line {line}): the recording is out of order",
                self.out_of_order
            ));
        }
        out
    }
}

/// A recording line read, before it is applied (reading needs no state, so
/// lines can be read on several cores and applied in order).
pub enum ReadLine<'a> {
    Blank,
    /// A ticker or index notification, read into its events.
    Hot(HotLine<'a>),
    Entry(RecordLine),
    /// Not a recording entry.
    Bad,
}

/// Read one line of a recording.
pub fn read_line(line: &str) -> ReadLine<'_> {
    if line.trim().is_empty() {
        return ReadLine::Blank;
    }
    // Tickers and index ticks, most of a recording, skip the general
    // parse (same events, a fraction of the cost).
    if let Some(hot) = hot::parse(line) {
        return ReadLine::Hot(hot);
    }
    match RecordLine::parse(line) {
        Some(entry) => ReadLine::Entry(entry),
        None => ReadLine::Bad,
    }
}

/// Applies a recording to a desk: creates accounts on first sight, matches
/// responses to requests, and keeps each account's last update time.
pub struct Ingest {
    pub desk: Desk,
    pub stats: ReplayStats,
    /// Model for every account; None = what the exchange reports.
    model_override: Option<String>,
    /// Model per account label, where the configuration names one.
    pub label_models: HashMap<String, String>,
    /// Collateral modes forced by the configuration, by account label.
    pub label_collateral: HashMap<String, Collateral>,
    /// Local time of the last quote per instrument (data age).
    pub last_quote: HashMap<String, i64>,
    /// Accounts that have had a balance, and a positions snapshot.
    pub has_balance: HashSet<AccountId>,
    pub has_positions: HashSet<AccountId>,
    /// Positions changed since the engine last looked (new subscriptions may be due).
    pub positions_changed: bool,
    /// Requests awaiting their answer: (account, id) → (method, currency param).
    pending: HashMap<(String, i64), (String, Option<String>)>,
    accounts: HashMap<(String, String), AccountId>,
    pub last_update: HashMap<AccountId, i64>,
    /// Requests about an account the exchange refused, by method, with its
    /// words; cleared when the same kind of data next arrives.
    pub refused: HashMap<AccountId, BTreeMap<String, Refusal>>,
    /// Answers about an account that could not be read, by method, and why;
    /// cleared by the next readable one.
    pub unreadable: HashMap<AccountId, BTreeMap<String, String>>,
    /// The latest value of an instrument or index that was rejected, and
    /// why; cleared when a plausible one arrives.
    pub rejected: HashMap<String, String>,
    pub limits: Limits,
    clock: ClockGuard,
}

/// An exchange's error answer to a request about one account currency.
#[derive(Clone, Debug, PartialEq)]
pub struct Refusal {
    pub code: i64,
    pub message: String,
}

/// What the exchange refused about an account, in words (None: nothing).
pub fn describe_refusals<'a>(
    refused: impl Iterator<Item = (&'a String, &'a Refusal)>,
) -> Option<String> {
    let parts: Vec<String> = refused
        .map(|(method, r)| {
            let what = match method.as_str() {
                "private/get_positions" => "positions",
                "private/get_account_summary" => "account summary",
                other => other,
            };
            format!("{what} refused: {r}")
        })
        .collect();
    (!parts.is_empty()).then(|| parts.join("; "))
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.message, self.code)
    }
}

impl Ingest {
    pub fn new(desk: Desk, model_override: Option<String>) -> Ingest {
        Ingest {
            desk,
            stats: ReplayStats::default(),
            model_override,
            label_models: HashMap::new(),
            label_collateral: HashMap::new(),
            last_quote: HashMap::new(),
            has_balance: HashSet::new(),
            has_positions: HashSet::new(),
            positions_changed: false,
            pending: HashMap::new(),
            accounts: HashMap::new(),
            last_update: HashMap::new(),
            refused: HashMap::new(),
            unreadable: HashMap::new(),
            rejected: HashMap::new(),
            limits: Limits::default(),
            clock: ClockGuard::default(),
        }
    }

    /// Read and apply every line of a recording.
    pub fn read(&mut self, input: impl BufRead) -> std::io::Result<()> {
        for line in read_capped_lines(input, MAX_LINE_BYTES)? {
            self.line(&line);
        }
        Ok(())
    }

    /// Apply one line of text; a bad line is counted, never fatal.
    pub fn line(&mut self, line: &str) {
        self.apply_read(read_line(line));
    }

    /// Apply every line in order, reading them on every core first (a
    /// block at a time, so that memory stays bounded): the same result as
    /// `line` on each.
    pub fn lines<S: AsRef<str> + Sync>(&mut self, lines: impl IntoIterator<Item = S>) {
        const BLOCK: usize = 4096;
        let mut lines = lines.into_iter().peekable();
        while lines.peek().is_some() {
            let block: Vec<S> = lines.by_ref().take(BLOCK).collect();
            let read = crate::parallel::map(&block, |l| read_line(l.as_ref()));
            read.into_iter().for_each(|r| self.apply_read(r));
        }
    }

    /// A new desk under `models` with every line applied, for a report at
    /// the recording's end: repricing is deferred to then, since the report
    /// values every account from its inputs. Returns it with the newest
    /// local time the recording holds.
    pub fn replay<S: AsRef<str> + Sync>(
        models: BTreeMap<String, ModelConfig>,
        model_override: Option<String>,
        lines: impl IntoIterator<Item = S>,
    ) -> Result<(Ingest, i64), String> {
        let mut ingest = Ingest::new(Desk::new(models, 0), model_override);
        ingest.desk.defer_pricing(true);
        ingest.lines(lines);
        ingest.desk.defer_pricing(false);
        let as_of = (ingest.stats.last_t).ok_or("the recording holds no entries")?;
        Ok((ingest, as_of))
    }

    /// Apply a line already read.
    pub fn apply_read(&mut self, line: ReadLine) {
        self.stats.lines += 1;
        match line {
            ReadLine::Blank => {}
            ReadLine::Hot(hot) => {
                let acct = clean_text(&hot.acct);
                self.note_time(hot.t);
                self.events(acct.as_ref(), hot.t, hot.events, None, None);
            }
            ReadLine::Entry(entry) => self.entry(&entry),
            ReadLine::Bad => {
                self.stats.bad_lines += 1;
                self.stats.first_bad_line.get_or_insert(self.stats.lines);
            }
        }
    }

    /// Apply one message sent or received for account `acct` at local time `t`.
    pub fn entry(&mut self, entry: &RecordLine) {
        let acct = clean_text(&entry.acct);
        let (t, acct, msg) = (entry.t, acct.as_ref(), &entry.msg);
        self.note_time(t);
        if entry.dir == Dir::Out {
            if let (Some(id), Some(method)) = (
                msg.get("id").and_then(Value::as_i64),
                msg.get("method").and_then(Value::as_str),
            ) {
                let currency = msg["params"]["currency"].as_str().map(str::to_string);
                self.pending
                    .insert((acct.to_string(), id), (method.to_string(), currency));
            }
            return;
        }
        let id = msg.get("id").and_then(Value::as_i64);
        let request = id.and_then(|id| self.pending.remove(&(acct.to_string(), id)));
        if id.is_some() && request.is_none() && msg.get("result").is_some() {
            // An answer to no request: the recording is cut or out of order.
            self.stats.unmatched += 1;
        }
        let (method, req_currency) = request.unzip();
        match normalize(msg, method.as_deref()) {
            Ok(events) => self.events(acct, t, events, method.as_deref(), req_currency.flatten()),
            Err((kind, why)) => {
                // Parse errors may quote the input.
                let (kind, why) = (
                    clean_text(&kind).into_owned(),
                    clean_text(&why).into_owned(),
                );
                // An unreadable answer about an account leaves it unknown, not empty.
                if let (Some(m), Some(Some(c))) = (&method, &req_currency) {
                    if m.starts_with("private/") {
                        let id = self.account(acct, c, None);
                        self.unreadable
                            .entry(id)
                            .or_default()
                            .insert(m.clone(), why.clone());
                        self.desk.account_mut(id);
                    }
                }
                let entry = self.stats.failures.entry(kind).or_insert((0, why));
                entry.0 += 1;
            }
        }
    }

    /// Apply one message's events for account `acct` at local time `t`;
    /// `method` and `currency` are those of the request it answers.
    fn events(
        &mut self,
        acct: &str,
        t: i64,
        events: Vec<Event>,
        method: Option<&str>,
        currency: Option<String>,
    ) {
        for mut e in events {
            // A positions reply names its currency only in the request.
            if let Event::Positions {
                currency: c @ None, ..
            } = &mut e
            {
                c.clone_from(&currency);
            }
            if let Event::Refused {
                method,
                code,
                message,
            } = e
            {
                let currency = currency.clone().unwrap_or_default();
                self.refusal(acct, t, &currency, method, Refusal { code, message });
                continue;
            }
            // All currencies' summaries: a wallet not watched yet is
            // taken only when it holds value in a cross-collateral
            // account (the connection then takes its positions too).
            if let (Event::Balance(b), Some("private/get_account_summaries")) = (&e, method) {
                let known = (self.accounts).contains_key(&(acct.to_string(), b.currency.clone()));
                let holds = b.balance != 0.0 || b.equity.is_some_and(|e| e != 0.0);
                let wanted = known || (b.cross == Some(true) && holds);
                if !wanted {
                    continue;
                }
            }
            // A message with an implausible value is not applied further.
            let rejected = self.stats.rejected;
            self.apply(acct, t, e);
            if self.stats.rejected > rejected {
                break;
            }
        }
    }

    /// Keep the newest local time; count lines dated well before it.
    fn note_time(&mut self, t: i64) {
        let newest = self.stats.last_t.map_or(t, |n| n.max(t));
        if t < newest.saturating_sub(60_000) {
            self.stats.out_of_order += 1;
            self.stats
                .first_out_of_order
                .get_or_insert(self.stats.lines);
        }
        self.stats.last_t = Some(newest);
    }

    /// Refuse a value: it does not enter the desk, and the instrument or
    /// index it was about is not fully known until a plausible one comes.
    fn reject(&mut self, key: &str, why: String) {
        self.stats.rejected += 1;
        let line = self.stats.lines;
        (self.stats.first_rejection).get_or_insert_with(|| format!("line {line}: {key}: {why}"));
        self.desk.touch_holders(key);
        self.rejected.insert(key.to_string(), why);
    }

    /// A quote's numbers against the instrument's kind, the index now, the
    /// exchange's clock (see `validate`).
    fn check_quote(&mut self, name: &str, q: &Quote, t: i64) -> Result<(), String> {
        let l = self.limits;
        let Some(inst) = self.desk.instrument(name) else {
            return Ok(());
        };
        let index_now = self.desk.market.index(&inst.index_name);
        if let Some(ix) = q.index_price {
            validate::near("index_price", ix, index_now, &l)?;
        }
        let reference = index_now.or(q.index_price);
        if inst.is_option() {
            validate::mark("mark_price", q.mark_price)?;
            if let Some(f) = q.underlying_price {
                validate::near("underlying_price", f, reference, &l)?;
            }
            if let Some(iv) = q.mark_iv {
                validate::iv("mark_iv", iv * 100.0, true, &l)?;
            }
        } else {
            validate::near("mark_price", q.mark_price, reference, &l)?;
        }
        self.clock.admit(q.timestamp, t, &l)
    }

    fn accept(&mut self, key: &str) {
        if self.rejected.remove(key).is_some() {
            self.desk.touch_holders(key);
        }
    }

    /// Why an account's numbers are not fully known (None: they are): a
    /// rejected value on something it holds, an answer about it that could
    /// not be read, its summary or positions missing.
    pub fn unknown_reason(&self, id: AccountId) -> Option<String> {
        let mut why: Vec<String> = Vec::new();
        for (method, e) in self.unreadable.get(&id).into_iter().flatten() {
            why.push(format!("{method} answer unreadable: {e}"));
        }
        if !self.has_balance.contains(&id) {
            why.push("no account summary".into());
        }
        if !self.has_positions.contains(&id) {
            why.push("no positions snapshot".into());
        }
        if !self.rejected.is_empty() {
            for p in &self.desk.account(id).positions {
                let index = self
                    .desk
                    .instrument(&p.instrument)
                    .map(|i| i.index_name.as_str());
                for key in std::iter::once(p.instrument.as_str()).chain(index) {
                    if let Some(r) = self.rejected.get(key) {
                        why.push(format!("{key}: latest value rejected: {r}"));
                    }
                }
            }
            why.dedup();
        }
        (!why.is_empty()).then(|| why.join("; "))
    }

    fn ensure_instrument(&mut self, name: &str) -> bool {
        if self.desk.instrument(name).is_some() {
            return true;
        }
        match Instrument::parse(name) {
            Ok(inst) => {
                self.desk.add_instrument(inst);
                true
            }
            Err(_) => false,
        }
    }

    /// Local time of an account's oldest input: the oldest quote among the
    /// instruments it holds, or its own last update when it holds none.
    /// None while a held instrument has had no quote.
    /// Instruments past expiry send no more quotes: they do not count.
    pub fn inputs_t(&self, id: AccountId) -> Option<i64> {
        let mut live = self.live_positions(id).peekable();
        if live.peek().is_none() {
            return self.last_update.get(&id).copied();
        }
        let mut oldest = i64::MAX;
        for p in live {
            oldest = oldest.min(*self.last_quote.get(&p.instrument)?);
        }
        Some(oldest)
    }

    /// The held instrument with the oldest quote (or none yet), and its
    /// local time: why an account's data is old.
    pub fn oldest_quote(&self, id: AccountId) -> Option<(String, Option<i64>)> {
        self.live_positions(id)
            .map(|p| {
                (
                    p.instrument.clone(),
                    self.last_quote.get(&p.instrument).copied(),
                )
            })
            .min_by_key(|(_, t)| t.unwrap_or(i64::MIN))
    }

    /// The account's positions whose instruments have not expired.
    fn live_positions(&self, id: AccountId) -> impl Iterator<Item = &Position> {
        (self.desk.account(id).positions.iter())
            .zip(self.desk.expired_positions(id))
            .filter_map(|(p, expired)| (!expired).then_some(p))
    }

    /// Remember that the exchange refused a request about `currency`; the
    /// account gets a row even if nothing else ever arrives for it.
    fn refusal(&mut self, acct: &str, t: i64, currency: &str, method: String, r: Refusal) {
        if currency.is_empty() {
            return;
        }
        let id = self.account(acct, currency, None);
        self.refused.entry(id).or_default().insert(method, r);
        self.desk.account_mut(id);
        self.last_update.insert(id, t);
    }

    /// What the exchange refused about account `id`, in words.
    pub fn error(&self, id: AccountId) -> Option<String> {
        describe_refusals(self.refused.get(&id).into_iter().flatten())
    }

    fn accepted(&mut self, id: AccountId, method: &str) {
        if let Some(u) = self.unreadable.get_mut(&id) {
            u.remove(method);
        }
        if let Some(r) = self.refused.get_mut(&id) {
            if r.remove(method).is_some() {
                self.desk.account_mut(id); // the row changes: rebuild its book
            }
            if r.is_empty() {
                self.refused.remove(&id);
            }
        }
    }

    /// The model an account must use whatever the exchange says, if any.
    fn fixed_model(&self, label: &str) -> Option<String> {
        self.label_models
            .get(label)
            .or(self.model_override.as_ref())
            .cloned()
    }

    fn account(&mut self, label: &str, currency: &str, margin_model: Option<&str>) -> AccountId {
        let key = (label.to_string(), currency.to_ascii_uppercase());
        if let Some(&id) = self.accounts.get(&key) {
            return id;
        }
        let model = self
            .fixed_model(label)
            .unwrap_or_else(|| model_for(margin_model).to_string());
        let mut acct = Account::new(label, &key.1, &model);
        if let Some(c) = self.label_collateral.get(label) {
            acct.collateral = *c;
        }
        let id = self.desk.add_account(acct).unwrap_or_else(|_| {
            self.desk
                .add_account(Account::new(label, &key.1, "deribit_sm"))
                .expect("built-in model")
        });
        self.accounts.insert(key, id);
        id
    }

    fn apply(&mut self, acct: &str, t: i64, event: Event) {
        match event {
            Event::Instruments(specs) => {
                for spec in specs {
                    if let Ok(inst) = Instrument::from_spec(&spec) {
                        self.desk.add_instrument(inst);
                    }
                }
            }
            Event::Quote { instrument, quote } => {
                if !self.ensure_instrument(&instrument) {
                    return;
                }
                match self.check_quote(&instrument, &quote, t) {
                    Ok(()) => {
                        self.accept(&instrument);
                        self.desk.apply_quote(&instrument, quote);
                        self.last_quote.insert(instrument, t);
                    }
                    Err(why) => self.reject(&instrument, why),
                }
            }
            Event::MarkIv {
                instrument,
                mark_price,
                iv,
                timestamp,
            } => {
                let Some(mut q) = self.desk.market.quotes.get(&instrument).copied() else {
                    return;
                };
                let l = self.limits;
                let checked = validate::mark("mark_price", mark_price)
                    .and_then(|_| validate::iv("iv", iv, false, &l))
                    .and_then(|_| self.clock.admit(timestamp, t, &l));
                match checked {
                    Ok(()) => {
                        q.mark_price = mark_price;
                        q.mark_iv = Some(iv);
                        q.timestamp = timestamp;
                        self.accept(&instrument);
                        self.desk.apply_quote(&instrument, q);
                    }
                    Err(why) => self.reject(&instrument, why),
                }
            }
            Event::Index {
                index_name,
                price,
                timestamp,
            } => {
                let l = self.limits;
                let last = self.desk.market.index(&index_name);
                let checked = validate::near("price", price, last, &l)
                    .and_then(|_| self.clock.admit(timestamp, t, &l));
                match checked {
                    Ok(()) => {
                        self.accept(&index_name);
                        self.desk.apply_index(&index_name, price, timestamp);
                    }
                    Err(why) => self.reject(&index_name, why),
                }
            }
            Event::Positions {
                currency,
                positions,
            } => self.positions(acct, t, currency, positions, true),
            Event::PositionChanges { positions } => self.positions(acct, t, None, positions, false),
            Event::Balance(b) => self.balance(acct, t, b),
            Event::Settlement { instrument, price } => {
                let mark = self
                    .desk
                    .market
                    .quotes
                    .get(&instrument)
                    .map(|q| q.mark_price);
                match validate::near("settlement_price", price, mark, &self.limits) {
                    Ok(_) => self.desk.apply_settlement(&instrument, price),
                    Err(why) => self.reject(&instrument, why),
                }
            }
            Event::Refused { .. } => {} // handled with its request's currency
        }
    }

    fn positions(
        &mut self,
        acct: &str,
        t: i64,
        currency: Option<String>,
        positions: Vec<Position>,
        snapshot: bool,
    ) {
        let asked = currency.map(|c| c.to_ascii_uppercase());
        let mut by_ccy: BTreeMap<String, Vec<Position>> = BTreeMap::new();
        let mut problems: Vec<(String, String)> = Vec::new();
        if let Some(c) = &asked {
            by_ccy.entry(c.clone()).or_default();
        }
        for p in positions {
            self.ensure_instrument(&p.instrument);
            let settles =
                (self.desk.instrument(&p.instrument)).map(|i| i.settlement_currency.clone());
            // A snapshot answers for its currency: every position belongs
            // to it (an unknown name is left out of its margin, visibly).
            let ccy = match (&asked, settles) {
                (Some(a), Some(s)) if *a != s => {
                    problems.push((
                        a.clone(),
                        format!("{} settles in {s}, not {a}", p.instrument),
                    ));
                    continue;
                }
                (Some(a), _) => a.clone(),
                (None, Some(s)) => s,
                (None, None) => {
                    let why = format!("unknown instrument {}", p.instrument);
                    let entry = self.stats.failures.entry("user.changes".into());
                    entry.or_insert((0, why)).0 += 1;
                    continue;
                }
            };
            if let Err(why) = validate::size("size", p.size) {
                problems.push((ccy, format!("{}: {why}", p.instrument)));
                continue;
            }
            by_ccy.entry(ccy).or_default().push(p);
        }
        self.positions_changed = true;
        if let (true, Some(a)) = (snapshot, &asked) {
            // A new snapshot is judged afresh.
            let id = self.account(acct, a, None);
            if let Some(u) = self.unreadable.get_mut(&id) {
                u.remove("position");
            }
        }
        for (ccy, why) in problems {
            let id = self.account(acct, &ccy, None);
            let u = self.unreadable.entry(id).or_default();
            u.insert("position".into(), why);
        }
        for (ccy, list) in by_ccy {
            let id = self.account(acct, &ccy, None);
            if snapshot {
                let list = list.into_iter().filter(|p| p.size != 0.0).collect();
                self.desk.replace_positions(id, list);
                self.has_positions.insert(id);
                self.accepted(id, "private/get_positions");
            } else {
                for p in list {
                    self.desk
                        .set_position(id, &p.instrument, p.size, p.session_ref_price);
                }
            }
            self.last_update.insert(id, t);
        }
    }

    fn balance(&mut self, acct: &str, t: i64, b: Balance) {
        let id = self.account(acct, &b.currency, b.margin_model.as_deref());
        let unknown = b
            .margin_model
            .as_deref()
            .filter(|m| known_model(m).is_none());
        let problems = self.unreadable.entry(id).or_default();
        match unknown {
            Some(m) => problems.insert("margin_model".into(), format!("unknown value {m:?}")),
            None => problems.remove("margin_model"),
        };
        let wanted = model_for(b.margin_model.as_deref());
        if self.fixed_model(acct).is_none()
            && unknown.is_none()
            && b.margin_model.is_some()
            && self.desk.account(id).model != wanted
        {
            // Positions came first and the account started on the default model.
            let _ = self.desk.set_model(id, wanted);
        }
        self.desk.set_balance(id, b.balance, b.futures_session_rpl);
        let a = self.desk.account_mut(id);
        a.exchange.initial_margin = b.initial_margin;
        a.exchange.maintenance_margin = b.maintenance_margin;
        a.exchange.equity = b.equity;
        a.exchange.margin_balance = b.margin_balance;
        a.exchange.totals_usd = b.totals_usd;
        a.exchange.as_of = b.timestamp.unwrap_or(t);
        let reported = b.cross.map(|cross| match cross {
            true => Collateral::Cross,
            false => Collateral::Segregated,
        });
        if let Some(c) = self.label_collateral.get(acct).copied().or(reported) {
            a.collateral = c;
        }
        self.has_balance.insert(id);
        self.accepted(id, "private/get_account_summary");
        self.last_update.insert(id, t);
    }
}
