//! File importers: the "Customer Support on Twitter" CSV (twcs) and carepulse's JSON-lines
//! format. Both stream row by row (constant memory), report a bad row with its line number and
//! reason, and yield `NewMessage`s. Writers for both formats serve the demo generator.
//!
//! twcs rules: `inbound` is True/False in any case; dates look like
//! `Tue Oct 31 22:10:47 +0000 2017`; the reply link is `in_response_to_tweet_id` (the
//! `response_tweet_id` column is ignored: spreadsheets mangle it). Brands are the authors of
//! outbound rows (found in a first pass over the file); a customer's tweet belongs to the first
//! brand it @-mentions, else to its first non-numeric @-mention.

use std::collections::{HashMap, HashSet};
use std::io::{BufRead, Read, Write};

use chrono::{DateTime, Utc};

use crate::model::{Direction, NewMessage, Platform};

/// A row that could not be imported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowError {
    /// 1-based line number in the file (the header is line 1 for CSV).
    pub line: u64,
    pub reason: String,
}

impl std::fmt::Display for RowError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {}: {}", self.line, self.reason)
    }
}

/// The twcs columns, in the order the data set has them.
pub const TWCS_HEADER: [&str; 7] = [
    "tweet_id",
    "author_id",
    "inbound",
    "created_at",
    "text",
    "response_tweet_id",
    "in_response_to_tweet_id",
];

const TWCS_DATE: &str = "%a %b %d %H:%M:%S %z %Y";

/// What the first pass over a twcs file learns: the brands (authors of outbound rows) and, for
/// every tweet of a thread a brand wrote in, that brand, so a customer tweet that names no brand
/// still belongs to the brand that answers it or its thread. Memory is 12 bytes per such tweet
/// (a sorted id and a brand index), independent of the text; the pass itself holds a union-find
/// over the reply links and drops it before the import starts.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TwcsBrands {
    names: Vec<String>,
    index: HashMap<String, u32>,
    /// Tweet ids in ascending order; `thread_brand[i]` is the brand of `thread_ids[i]`'s thread.
    thread_ids: Vec<u64>,
    thread_brand: Vec<u32>,
}

impl TwcsBrands {
    /// Brand names in the file, lower-cased.
    pub fn names(&self) -> HashSet<String> {
        self.index.keys().cloned().collect()
    }

    fn canonical(&self, handle: &str) -> Option<&str> {
        self.index
            .get(&handle.to_lowercase())
            .map(|&i| self.names[i as usize].as_str())
    }

    /// The brand that writes in the thread of tweet `id`.
    fn by_thread(&self, id: &str) -> Option<&str> {
        let id: u64 = id.parse().ok()?;
        let i = self.thread_ids.binary_search(&id).ok()?;
        let b = *self.thread_brand.get(i)?;
        self.names.get(b as usize).map(String::as_str)
    }
}

/// Union-find over reply links: tweet id → a tweet of the same thread (roots are not keys).
#[derive(Default)]
struct Threads {
    links: HashMap<u64, u64>,
}

impl Threads {
    fn root(&self, mut id: u64) -> u64 {
        while let Some(&next) = self.links.get(&id) {
            if next == id {
                break;
            }
            id = next;
        }
        id
    }

    fn root_mut(&mut self, id: u64) -> u64 {
        let root = self.root(id);
        // Path compression keeps later look-ups short.
        let mut cur = id;
        while cur != root {
            let next = self.links.get(&cur).copied().unwrap_or(root);
            self.links.insert(cur, root);
            cur = next;
        }
        root
    }

    fn join(&mut self, a: u64, b: u64) {
        let (a, b) = (self.root_mut(a), self.root_mut(b));
        if a != b {
            self.links.insert(a, b);
        }
    }
}

/// First pass over a twcs file (see `TwcsBrands`).
pub fn twcs_brands(reader: impl Read) -> Result<TwcsBrands, csv::Error> {
    let mut rdr = csv::ReaderBuilder::new().flexible(true).from_reader(reader);
    let mut brands = TwcsBrands::default();
    let mut threads = Threads::default();
    let mut record = csv::StringRecord::new();
    let mut brand_tweets: Vec<(u64, u32)> = Vec::new();
    while rdr.read_record(&mut record)? {
        let (Some(id), Some(author), Some(inbound)) = (record.get(0), record.get(1), record.get(2))
        else {
            continue;
        };
        let id = parse_id(id).and_then(|i| i.parse::<u64>().ok());
        let parent = record
            .get(6)
            .and_then(parse_id)
            .and_then(|i| i.parse::<u64>().ok());
        if let (Some(id), Some(parent)) = (id, parent) {
            threads.join(id, parent);
        }
        if parse_bool(inbound) == Some(false) {
            let key = author.trim().to_lowercase();
            let next = brands.names.len() as u32;
            let b = *brands.index.entry(key).or_insert(next);
            if b == next {
                brands.names.push(author.trim().to_string());
            }
            if let Some(id) = id {
                brand_tweets.push((id, b));
            }
        }
    }
    // The first brand (in file order) that writes in each thread, keyed by the thread's root.
    let mut root_brand: HashMap<u64, u32> = HashMap::new();
    for (id, b) in brand_tweets {
        let root = threads.root_mut(id);
        root_brand.entry(root).or_insert(b);
    }
    // Every linked tweet and every root, with its thread's brand, sorted for binary search.
    let mut pairs: Vec<(u64, u32)> = threads
        .links
        .keys()
        .filter_map(|&id| root_brand.get(&threads.root(id)).map(|&b| (id, b)))
        .chain(root_brand.iter().map(|(&root, &b)| (root, b)))
        .collect();
    drop(threads);
    drop(root_brand);
    pairs.sort_unstable_by_key(|&(id, _)| id);
    pairs.dedup_by_key(|&mut (id, _)| id);
    brands.thread_ids = pairs.iter().map(|&(id, _)| id).collect();
    brands.thread_brand = pairs.iter().map(|&(_, b)| b).collect();
    Ok(brands)
}

fn parse_bool(s: &str) -> Option<bool> {
    match s.trim().to_ascii_lowercase().as_str() {
        "true" | "1" => Some(true),
        "false" | "0" => Some(false),
        _ => None,
    }
}

/// A tweet id as written in the file ("119237" or "119237.0").
fn parse_id(s: &str) -> Option<String> {
    let t = s.trim();
    let t = t.strip_suffix(".0").unwrap_or(t);
    (!t.is_empty() && t.bytes().all(|b| b.is_ascii_digit())).then(|| t.to_string())
}

/// @-mentions of a text, in order, without the `@`.
pub fn mentions(text: &str) -> impl Iterator<Item = &str> {
    text.split(|c: char| c.is_whitespace() || c == ',' || c == ':' || c == '(' || c == ')')
        .filter_map(|w| w.strip_prefix('@'))
        .map(|w| w.trim_end_matches(|c: char| !(c.is_alphanumeric() || c == '_')))
        .filter(|w| !w.is_empty())
}

/// Parses twcs rows given the brand set of the file.
pub struct TwcsParser {
    brands: TwcsBrands,
}

impl TwcsParser {
    pub fn new(brands: TwcsBrands) -> Self {
        TwcsParser { brands }
    }

    /// One CSV record into a message.
    pub fn parse(&self, record: &csv::StringRecord, line: u64) -> Result<NewMessage, RowError> {
        let err = |reason: String| RowError { line, reason };
        if record.len() < 7 {
            return Err(err(format!(
                "expected 7 columns ({}), found {}",
                TWCS_HEADER.join(","),
                record.len()
            )));
        }
        let tweet_id = parse_id(&record[0])
            .ok_or_else(|| err(format!("tweet_id '{}' is not a number", &record[0])))?;
        let author = record[1].trim();
        if author.is_empty() {
            return Err(err("author_id is empty".into()));
        }
        let inbound = parse_bool(&record[2])
            .ok_or_else(|| err(format!("inbound '{}' is not True or False", &record[2])))?;
        let created_at = DateTime::parse_from_str(record[3].trim(), TWCS_DATE)
            .map_err(|_| {
                err(format!(
                    "created_at '{}' is not a date like 'Tue Oct 31 22:10:47 +0000 2017'",
                    &record[3]
                ))
            })?
            .with_timezone(&Utc);
        let text = record[4].to_string();
        let reply_to = match record[6].trim() {
            "" => None,
            s => Some(
                parse_id(s)
                    .ok_or_else(|| err(format!("in_response_to_tweet_id '{s}' is not a number")))?,
            ),
        };
        let (direction, brand, customer) = if inbound {
            let brand = mentions(&text)
                .find_map(|m| self.brands.canonical(m))
                .or_else(|| self.brands.by_thread(&tweet_id))
                .map(str::to_string)
                .or_else(|| {
                    mentions(&text)
                        .find(|m| !m.bytes().all(|b| b.is_ascii_digit()))
                        .map(str::to_string)
                })
                .unwrap_or_else(|| "unknown".to_string());
            (Direction::Inbound, brand, None)
        } else {
            let customer = mentions(&text).next().map(str::to_string);
            (Direction::Outbound, author.to_string(), customer)
        };
        Ok(NewMessage {
            platform: Platform::X,
            url: Some(format!("https://x.com/{author}/status/{tweet_id}")),
            external_id: tweet_id,
            brand,
            author: author.to_string(),
            direction,
            created_at,
            text,
            reply_to,
            conversation_ref: None,
            engagement: None,
            customer,
        })
    }
}

/// Streams a twcs file: `Ok(message)` or `Err(row error)` per data row.
pub fn read_twcs<R: Read>(
    reader: R,
    brands: TwcsBrands,
) -> impl Iterator<Item = Result<NewMessage, RowError>> {
    let parser = TwcsParser::new(brands);
    let mut rdr = csv::ReaderBuilder::new().flexible(true).from_reader(reader);
    let mut record = csv::StringRecord::new();
    let mut done = false;
    std::iter::from_fn(move || {
        if done {
            return None;
        }
        match rdr.read_record(&mut record) {
            Ok(true) => {
                let line = record.position().map(|p| p.line()).unwrap_or(0);
                Some(parser.parse(&record, line))
            }
            Ok(false) => None,
            Err(e) => {
                let line = e.position().map(|p| p.line()).unwrap_or(0);
                // A broken quote or invalid UTF-8: report it and carry on with the next row.
                if matches!(e.kind(), csv::ErrorKind::Io(_)) {
                    done = true;
                }
                Some(Err(RowError {
                    line,
                    reason: format!("unreadable CSV row: {e}"),
                }))
            }
        }
    })
}

/// Streams a JSON-lines file: one `NewMessage` object per line; blank lines are skipped.
pub fn read_jsonl<R: BufRead>(reader: R) -> impl Iterator<Item = Result<NewMessage, RowError>> {
    reader.split(b'\n').enumerate().filter_map(|(i, line)| {
        let line_no = i as u64 + 1;
        let bytes = match line {
            Ok(b) => b,
            Err(e) => {
                return Some(Err(RowError {
                    line: line_no,
                    reason: format!("cannot read: {e}"),
                }))
            }
        };
        let text = String::from_utf8_lossy(&bytes);
        let text = text.trim();
        if text.is_empty() {
            return None;
        }
        Some(parse_jsonl_line(text, line_no))
    })
}

/// One JSON-lines record.
pub fn parse_jsonl_line(text: &str, line: u64) -> Result<NewMessage, RowError> {
    let m: NewMessage = serde_json::from_str(text).map_err(|e| RowError {
        line,
        reason: format!("not a carepulse message: {e}"),
    })?;
    if m.external_id.trim().is_empty() {
        return Err(RowError {
            line,
            reason: "external_id is empty".into(),
        });
    }
    if m.brand.trim().is_empty() {
        return Err(RowError {
            line,
            reason: "brand is empty".into(),
        });
    }
    Ok(m)
}

/// Writes messages in twcs format (for the demo generator and benchmarks).
pub struct TwcsWriter<W: Write> {
    inner: csv::Writer<W>,
}

impl<W: Write> TwcsWriter<W> {
    pub fn new(out: W) -> Result<Self, csv::Error> {
        let mut inner = csv::Writer::from_writer(out);
        inner.write_record(TWCS_HEADER)?;
        Ok(TwcsWriter { inner })
    }

    pub fn write(&mut self, m: &NewMessage) -> Result<(), csv::Error> {
        let date = m.created_at.format(TWCS_DATE).to_string();
        let inbound = if m.direction == Direction::Inbound {
            "True"
        } else {
            "False"
        };
        self.inner.write_record([
            m.external_id.as_str(),
            m.author.as_str(),
            inbound,
            date.as_str(),
            m.text.as_str(),
            "",
            m.reply_to.as_deref().unwrap_or(""),
        ])
    }

    pub fn finish(mut self) -> Result<(), csv::Error> {
        self.inner.flush()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "tweet_id,author_id,inbound,created_at,text,response_tweet_id,in_response_to_tweet_id
1,sprintcare,FALSE,Tue Oct 31 22:10:47 +0000 2017,@115712 I understand. I would like to assist you.,2,3
3,115712,TRUE,Tue Oct 31 22:08:27 +0000 2017,@sprintcare I have sent several private messages,\"1,55,157\",
8,115714,True,Tue Oct 31 22:00:00 +0000 2017,hello @AskAcme is anyone there,,
9,115714,maybe,Tue Oct 31 22:00:00 +0000 2017,@sprintcare hi,,
10,115714,TRUE,yesterday,@sprintcare hi,,
11,115714,TRUE,Tue Oct 31 22:00:00 +0000 2017,@sprintcare hi,,abc
";

    fn parse_all(text: &str) -> Vec<Result<NewMessage, RowError>> {
        let brands = twcs_brands(text.as_bytes()).expect("brands");
        read_twcs(text.as_bytes(), brands).collect()
    }

    #[test]
    fn brands_are_outbound_authors() {
        let brands = twcs_brands(SAMPLE.as_bytes()).expect("brands");
        assert_eq!(
            brands.names(),
            ["sprintcare".to_string()].into_iter().collect()
        );
    }

    /// A customer tweet that names no brand belongs to the brand that writes in its thread,
    /// however deep the thread and whichever row comes first; the first brand in file order
    /// wins a thread two brands write in; a thread no brand writes in has none.
    #[test]
    fn tweets_naming_no_brand_take_their_threads_brand() {
        let csv =
            "tweet_id,author_id,inbound,created_at,text,response_tweet_id,in_response_to_tweet_id
14,cust9,True,Tue Oct 31 22:30:00 +0000 2017,still nothing,,13
10,cust1,True,Tue Oct 31 22:00:00 +0000 2017,my bill is wrong,,
11,AcmeCare,False,Tue Oct 31 22:05:00 +0000 2017,@cust1 sorry! DM us,,10
12,cust1,True,Tue Oct 31 22:10:00 +0000 2017,sent,,11
13,OtherCo,False,Tue Oct 31 22:20:00 +0000 2017,@cust1 we can help too,,12
20,cust2,True,Tue Oct 31 23:00:00 +0000 2017,talking to myself,,
21,cust2,True,Tue Oct 31 23:01:00 +0000 2017,still me,,20
";
        let brands = twcs_brands(csv.as_bytes()).expect("brands");
        for (id, want) in [
            ("10", Some("AcmeCare")),
            ("12", Some("AcmeCare")),
            ("14", Some("AcmeCare")),
            ("13", Some("AcmeCare")),
            ("20", None),
            ("21", None),
            ("99", None),
            ("x", None),
        ] {
            assert_eq!(brands.by_thread(id), want, "tweet {id}");
        }
        let rows = parse_all(csv);
        let brand_of = |i: usize| rows[i].as_ref().expect("row ok").brand.clone();
        assert_eq!(brand_of(0), "AcmeCare");
        assert_eq!(brand_of(3), "AcmeCare");
    }

    #[test]
    fn parses_good_rows_and_reports_bad_ones_with_line_numbers() {
        let rows = parse_all(SAMPLE);
        assert_eq!(rows.len(), 6);
        let reply = rows[0].as_ref().expect("row 1 ok");
        assert_eq!(reply.direction, Direction::Outbound);
        assert_eq!(reply.brand, "sprintcare");
        assert_eq!(reply.reply_to.as_deref(), Some("3"));
        assert_eq!(reply.customer.as_deref(), Some("115712"));
        assert_eq!(reply.created_at.to_rfc3339(), "2017-10-31T22:10:47+00:00");
        // The mangled response_tweet_id cell is ignored.
        let tweet = rows[1].as_ref().expect("row 2 ok");
        assert_eq!(tweet.brand, "sprintcare");
        assert_eq!(tweet.direction, Direction::Inbound);
        assert_eq!(tweet.reply_to, None);
        // Unknown brand: the first non-numeric mention.
        assert_eq!(rows[2].as_ref().expect("row 3 ok").brand, "AskAcme");
        let bad: Vec<&RowError> = rows.iter().filter_map(|r| r.as_ref().err()).collect();
        assert_eq!(bad.len(), 3);
        assert_eq!(bad[0].line, 5);
        assert!(bad[0].reason.contains("inbound"));
        assert_eq!(bad[1].line, 6);
        assert!(bad[1].reason.contains("created_at"));
        assert_eq!(bad[2].line, 7);
        assert!(bad[2].reason.contains("in_response_to_tweet_id"));
    }

    #[test]
    fn real_twcs_head_parses_every_row() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../shared/data/twcs/twcs_head121.csv"
        );
        let Ok(text) = std::fs::read_to_string(path) else {
            eprintln!("skipped: {path} not found (../shared/data is absent)");
            return;
        };
        let rows = parse_all(&text);
        assert_eq!(rows.len(), 121);
        assert!(
            rows.iter().all(|r| r.is_ok()),
            "{:?}",
            rows.iter().filter(|r| r.is_err()).collect::<Vec<_>>()
        );
        let brands: HashSet<String> = rows
            .iter()
            .flatten()
            .filter(|m| m.direction == Direction::Outbound)
            .map(|m| m.brand.clone())
            .collect();
        assert_eq!(brands.len(), 7, "{brands:?}");
        // Every inbound tweet is attributed to one of the seven brands.
        let lower: HashSet<String> = brands.iter().map(|b| b.to_lowercase()).collect();
        for m in rows
            .iter()
            .flatten()
            .filter(|m| m.direction == Direction::Inbound)
        {
            assert!(
                lower.contains(&m.brand.to_lowercase()),
                "inbound {} attributed to {}",
                m.external_id,
                m.brand
            );
        }
    }

    #[test]
    fn jsonl_round_trip_and_errors() {
        let good = r#"{"platform":"x","external_id":"1","brand":"Acme","author":"bob","direction":"inbound","created_at":"2026-11-20T10:00:00Z","text":"my order is late"}"#;
        let input = format!(
            "{good}\n\n{{not json}}\n{}\n",
            good.replace("\"Acme\"", "\"\"")
        );
        let rows: Vec<_> = read_jsonl(input.as_bytes()).collect();
        assert_eq!(rows.len(), 3);
        assert_eq!(rows[0].as_ref().expect("ok").text, "my order is late");
        assert_eq!(rows[1].as_ref().expect_err("bad").line, 3);
        assert!(rows[2].as_ref().expect_err("bad").reason.contains("brand"));
    }

    #[test]
    fn twcs_writer_output_reads_back() {
        let m = parse_all(SAMPLE)
            .into_iter()
            .next()
            .expect("row")
            .expect("ok");
        let mut buf = Vec::new();
        let mut w = TwcsWriter::new(&mut buf).expect("writer");
        w.write(&m).expect("write");
        w.finish().expect("flush");
        let back = parse_all(std::str::from_utf8(&buf).expect("utf8"));
        assert_eq!(back[0].as_ref().expect("ok"), &m);
    }
}
