//! Platform markup stripping: turns what a platform sends (Mastodon HTML, X's escaped text)
//! into the plain text that is scored and matched. Removes HTML tags (block tags become line
//! breaks), decodes HTML entities, and drops URLs and @handles (including Mastodon's
//! `@user@instance`), so none of them moves a score. Hashtags stay: `#delivery` is a topic.

use std::borrow::Cow;
use std::sync::LazyLock;

use regex::Regex;

static TAG: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)</?(p|br|a|span|div|strong|em|b|i|u|ul|ol|li|blockquote|code|pre|del|s|sup|sub|h[1-6]|img|hr)(?:\s[^<>]*)?/?>",
    )
    .expect("tag pattern is a valid regex literal")
});

/// The regex engine's Unicode word character (`\w`), for the rare non-ASCII neighbours of a
/// handle or URL.
static WORD: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\w").expect("word pattern is a valid regex literal"));

/// Whether `ch` is a word character in the sense of the regex `\w` (Unicode).
fn is_word_char(ch: char) -> bool {
    if ch.is_ascii() {
        ch.is_ascii_alphanumeric() || ch == '_'
    } else {
        WORD.is_match(ch.encode_utf8(&mut [0u8; 4]))
    }
}

/// Whether the character that ends `s[..i]` is a word character.
fn word_before(s: &str, i: usize) -> bool {
    s[..i].chars().next_back().is_some_and(is_word_char)
}

/// Length of a URL prefix (`http://`, `https://` or `www.`, ignoring case as the regex engine
/// does, where `ſ` folds to `s`) at the start of `b`.
fn url_prefix_len(b: &[u8]) -> Option<usize> {
    let lower = |i: usize| b.get(i).map(|c| c.to_ascii_lowercase());
    if b.len() >= 4 && b[..4].eq_ignore_ascii_case(b"www.") {
        return Some(4);
    }
    if b.len() < 4 || !b[..4].eq_ignore_ascii_case(b"http") {
        return None;
    }
    let s_len = if lower(4) == Some(b's') {
        1
    } else if b.get(4..6) == Some("ſ".as_bytes()) {
        2
    } else {
        0
    };
    if s_len > 0 && b.get(4 + s_len..7 + s_len) == Some(b"://") {
        return Some(7 + s_len);
    }
    (b.get(4..7) == Some(b"://")).then_some(7)
}

/// Removes URLs: what `(?i)\b(?:https?://|www\.)\S+` replaced by nothing would give.
fn remove_urls(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = String::with_capacity(s.len());
    let (mut copied, mut i) = (0usize, 0usize);
    while i < b.len() {
        let c = b[i] | 0x20;
        if (c == b'h' || c == b'w') && !word_before(s, i) {
            if let Some(p) = url_prefix_len(&b[i..]) {
                let rest = &s[i + p..];
                let n = rest.find(char::is_whitespace).unwrap_or(rest.len());
                if n > 0 {
                    out.push_str(&s[copied..i]);
                    i += p + n;
                    copied = i;
                    continue;
                }
            }
        }
        i += 1;
    }
    out.push_str(&s[copied..]);
    out
}

/// Number of leading bytes of `b` in `[A-Za-z0-9_]` (`under`) or `[A-Za-z0-9-]`.
fn run_len(b: &[u8], under: bool) -> usize {
    b.iter()
        .take_while(|&&c| c.is_ascii_alphanumeric() || c == if under { b'_' } else { b'-' })
        .count()
}

/// Length of `@user` or `@user@host.domain` at the start of `b` (which starts with `@`).
fn handle_len(b: &[u8]) -> Option<usize> {
    let body = run_len(&b[1..], true);
    if body == 0 {
        return None;
    }
    let mut end = 1 + body;
    if b.get(end) == Some(&b'@') {
        let label = run_len(&b[end + 1..], false);
        if label > 0 {
            let mut d = end + 1 + label;
            let mut reps = 0;
            while b.get(d) == Some(&b'.') {
                let l = run_len(&b[d + 1..], false);
                if l == 0 {
                    break;
                }
                d += 1 + l;
                reps += 1;
            }
            if reps > 0 {
                end = d;
            }
        }
    }
    Some(end)
}

/// Removes @handles: what `(^|[^\w@])@[A-Za-z0-9_]+(?:@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+)?`
/// replaced by `$1` would give (the character before a handle must not belong to the
/// previous handle).
fn remove_handles(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = String::with_capacity(s.len());
    let (mut copied, mut i) = (0usize, 0usize);
    while let Some(off) = b[i..].iter().position(|&c| c == b'@') {
        let at = i + off;
        let starts = at == 0
            || (at > copied || copied == 0)
                && s[..at]
                    .chars()
                    .next_back()
                    .is_some_and(|c| c != '@' && !is_word_char(c));
        if starts {
            if let Some(n) = handle_len(&b[at..]) {
                out.push_str(&s[copied..at]);
                i = at + n;
                copied = i;
                continue;
            }
        }
        i = at + 1;
    }
    out.push_str(&s[copied..]);
    out
}

/// `tidy_whitespace(&remove_handles(s))` when `s` has a handle to remove, else `None`: for
/// ASCII text in one pass, the kept runs tidied straight into the result.
fn remove_handles_tidied(s: &str) -> Option<String> {
    if !s.is_ascii() {
        let removed = remove_handles(s);
        // A removed handle is never empty, so a removal always shortens the text.
        return (removed.len() != s.len()).then(|| tidy_whitespace(&removed));
    }
    let b = s.as_bytes();
    let mut out = String::with_capacity(s.len());
    let mut gap = None;
    let (mut copied, mut i) = (0usize, 0usize);
    while let Some(off) = b[i..].iter().position(|&c| c == b'@') {
        let at = i + off;
        // As `remove_handles` decides, on bytes: the text is ASCII.
        let starts = at == 0
            || (at > copied || copied == 0)
                && b[at - 1] != b'@'
                && !(b[at - 1].is_ascii_alphanumeric() || b[at - 1] == b'_');
        if starts {
            if let Some(n) = handle_len(&b[at..]) {
                tidy_ascii_into(&mut out, &mut gap, &s[copied..at]);
                i = at + n;
                copied = i;
                continue;
            }
        }
        i = at + 1;
    }
    if copied == 0 {
        return None;
    }
    tidy_ascii_into(&mut out, &mut gap, &s[copied..]);
    Some(out)
}

/// Block-level tags whose boundaries separate words.
fn is_block_tag(name: &str) -> bool {
    matches!(
        name.to_ascii_lowercase().as_str(),
        "p" | "br"
            | "div"
            | "li"
            | "ul"
            | "ol"
            | "blockquote"
            | "pre"
            | "hr"
            | "h1"
            | "h2"
            | "h3"
            | "h4"
            | "h5"
            | "h6"
    )
}

/// Strips platform markup from `text`: HTML tags, HTML entities, URLs and @handles. Plain
/// text without any of them comes back unchanged (whitespace included), so its scores equal
/// the reference scorer's on the raw text.
pub fn strip_markup(text: &str) -> String {
    strip_markup_cow(text).into_owned()
}

/// Whether `text` may hold markup: a `<`, `&` or `@`, a `://`, or `www.` / `WWW.`.
fn has_markup(text: &str) -> bool {
    let [lt, amp, at, colon, dot] =
        super::bytescan::count_bytes(text.as_bytes(), [b'<', b'&', b'@', b':', b'.']);
    lt + amp + at > 0
        || (colon > 0 && text.contains("://"))
        || (dot > 0 && (text.contains("www.") || text.contains("WWW.")))
}

/// `strip_markup`, borrowing `text` when it holds no markup (the common case).
pub fn strip_markup_cow(text: &str) -> Cow<'_, str> {
    if !has_markup(text) {
        return Cow::Borrowed(text);
    }
    strip_markup_owned(text)
}

/// The stripped text; `text` itself, borrowed, when no step changes it.
fn strip_markup_owned(text: &str) -> Cow<'_, str> {
    let mut s: Cow<'_, str> = if text.contains('<') {
        TAG.replace_all(text, |c: &regex::Captures<'_>| {
            let name = c.get(1).map_or("", |m| m.as_str());
            if is_block_tag(name) {
                "\n"
            } else {
                ""
            }
        })
    } else {
        Cow::Borrowed(text)
    };
    if s.contains('&') {
        s = Cow::Owned(decode_entities(&s));
    }
    if s.contains("://") || s.contains("www.") || s.contains("WWW.") {
        s = Cow::Owned(remove_urls(&s));
    }
    if s.contains('@') {
        if let Some(tidied) = remove_handles_tidied(&s) {
            return Cow::Owned(tidied);
        }
    }
    if s.len() != text.len() || s != text {
        Cow::Owned(tidy_whitespace(&s))
    } else {
        Cow::Borrowed(text)
    }
}

/// Collapses runs of spaces and tabs left behind by removals and trims the ends. Line breaks
/// are kept (one per run). Token boundaries for VADER are unchanged: it splits on whitespace.
/// Runs of non-whitespace are copied whole; a run of whitespace becomes one line break if it
/// holds one, else one space, and is dropped at either end.
fn tidy_whitespace(s: &str) -> String {
    if s.is_ascii() {
        return tidy_whitespace_ascii(s);
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s.trim_start();
    while !rest.is_empty() {
        let word = rest.find(char::is_whitespace).unwrap_or(rest.len());
        out.push_str(&rest[..word]);
        let after = &rest[word..];
        rest = after.trim_start();
        if !rest.is_empty() {
            let gap = &after[..after.len() - rest.len()];
            out.push(if gap.contains('\n') { '\n' } else { ' ' });
        }
    }
    out
}

/// `tidy_whitespace` for ASCII text, byte by byte (the ASCII whitespace of
/// `char::is_whitespace` is \t, \n, \x0B, \x0C, \r and space).
fn tidy_whitespace_ascii(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    tidy_ascii_into(&mut out, &mut None, s);
    out
}

/// Appends ASCII `s` to `out` as `tidy_whitespace_ascii` would tidy it, as one piece of a
/// longer text: `gap` is the gap pending before the next word (none, a space or a line
/// break), carried from piece to piece; a gap still pending at the end is dropped.
fn tidy_ascii_into(out: &mut String, gap: &mut Option<char>, s: &str) {
    let mut word_start: Option<usize> = None;
    for (i, &b) in s.as_bytes().iter().enumerate() {
        if matches!(b, b'\t'..=b'\r' | b' ') {
            if let Some(a) = word_start.take() {
                out.push_str(&s[a..i]);
            }
            if !out.is_empty() && *gap != Some('\n') {
                *gap = Some(if b == b'\n' { '\n' } else { ' ' });
            }
        } else if word_start.is_none() {
            if let Some(g) = gap.take() {
                out.push(g);
            }
            word_start = Some(i);
        }
    }
    if let Some(a) = word_start {
        out.push_str(&s[a..]);
    }
}

/// `tidy_whitespace` char by char, as it was first written (for the test).
#[cfg(test)]
fn tidy_whitespace_chars(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut pending: Option<char> = None;
    for ch in s.chars() {
        if ch.is_whitespace() {
            pending = match pending {
                Some('\n') => Some('\n'),
                _ if ch == '\n' => Some('\n'),
                _ => Some(' '),
            };
        } else {
            if let Some(p) = pending.take() {
                if !out.is_empty() {
                    out.push(p);
                }
            }
            out.push(ch);
        }
    }
    out
}

/// Decodes the HTML entities platforms use: the named ones of HTML 4's core set that appear
/// in social text, and every decimal or hexadecimal numeric reference. Unknown or malformed
/// entities are left as they are; a numeric reference to an invalid code point becomes U+FFFD.
pub fn decode_entities(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(pos) = rest.find('&') {
        out.push_str(&rest[..pos]);
        let tail = &rest[pos..];
        match parse_entity(tail) {
            Some((ch, used)) => {
                out.push(ch);
                rest = &tail[used..];
            }
            None => {
                out.push('&');
                rest = &tail[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// Parses one entity at the start of `s` (which starts with '&'); returns the character and
/// the number of bytes consumed.
fn parse_entity(s: &str) -> Option<(char, usize)> {
    let semi = s.get(1..s.len().min(12))?.find(';')? + 1;
    let body = &s[1..semi];
    let ch = if let Some(num) = body.strip_prefix('#') {
        let code = if let Some(hex) = num.strip_prefix('x').or_else(|| num.strip_prefix('X')) {
            u32::from_str_radix(hex, 16).ok()?
        } else {
            num.parse::<u32>().ok()?
        };
        char::from_u32(code).unwrap_or('\u{FFFD}')
    } else {
        match body {
            "amp" | "AMP" => '&',
            "lt" | "LT" => '<',
            "gt" | "GT" => '>',
            "quot" | "QUOT" => '"',
            "apos" => '\'',
            "nbsp" => '\u{a0}',
            "hellip" => '…',
            "mdash" => '—',
            "ndash" => '–',
            "lsquo" => '‘',
            "rsquo" => '’',
            "ldquo" => '“',
            "rdquo" => '”',
            "copy" => '©',
            "reg" => '®',
            "trade" => '™',
            "euro" => '€',
            "pound" => '£',
            _ => return None,
        }
    };
    Some((ch, semi + 1))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::classify::corpus::shared_text;

    /// The run-by-run `tidy_whitespace` equals the char-by-char one on edge cases and on
    /// every line of the VADER tweets and complaints-dev.csv.
    #[test]
    fn tidy_whitespace_equals_the_char_walk() {
        let mut texts: Vec<String> = [
            "",
            " ",
            "\n",
            "a",
            "  a  ",
            "a \t b",
            "a \n\t b\n",
            "\n\na\r\nb \u{a0}c\u{3000}\u{85}d\u{1c}e",
            "é  ü\t\t😡 \n ",
            "a\u{2028}b",
            "a\x0b\x0cb\r c \n",
            " \n a",
        ]
        .map(String::from)
        .to_vec();
        for f in ["vader/tweets_GroundTruth.txt", "complaints-dev.csv"] {
            if let Some(all) = shared_text(f) {
                texts.extend(all.lines().map(String::from));
                texts.push(all);
            }
        }
        for t in &texts {
            assert_eq!(tidy_whitespace(t), tidy_whitespace_chars(t), "{t:?}");
        }
    }

    #[test]
    fn plain_text_is_unchanged() {
        for t in [
            "I love this!!  :)",
            "",
            "a <3 b",
            "x < y > z",
            "AT&T rocks",
            "#delivery late",
        ] {
            assert_eq!(strip_markup(t), t);
            assert!(matches!(strip_markup_cow(t), Cow::Borrowed(_)) || t.contains(['<', '&']));
        }
    }

    #[test]
    fn mastodon_html_becomes_plain_text() {
        let html = r#"<p><span class="h-card"><a href="https://mastodon.social/@acme" class="u-url mention">@<span>acme</span></a></span> my order never arrived &amp; nobody answers. <a href="https://example.com/track/123" rel="nofollow noopener"><span class="invisible">https://</span><span class="">example.com/track/123</span><span class="invisible"></span></a></p><p>Second&#39;s paragraph<br/>line</p>"#;
        assert_eq!(
            strip_markup(html),
            "my order never arrived & nobody answers.\nSecond's paragraph\nline"
        );
    }

    #[test]
    fn handles_and_urls_are_removed_but_emails_and_hashtags_stay() {
        assert_eq!(
            strip_markup("@acme @bob@mastodon.social help http://t.co/x #refund mail a@b.com"),
            "help #refund mail a@b.com"
        );
        assert_eq!(strip_markup("see www.example.com/x now"), "see now");
    }

    #[test]
    fn entities_decode_once() {
        assert_eq!(
            decode_entities("&lt;3 &amp;lt; &#x1F600; &#128512; &bogus; &"),
            "<3 &lt; 😀 😀 &bogus; &"
        );
        assert_eq!(decode_entities("&#99999999999;"), "&#99999999999;");
        assert_eq!(decode_entities("&#xD800;"), "\u{FFFD}");
    }

    /// The scanners give exactly what the regex replacements they stand for give, on
    /// generated texts full of edge cases (adjacent handles, e-mails, Mastodon handles with
    /// odd domains, URL prefixes in any case, non-ASCII neighbours).
    #[test]
    fn scanners_equal_the_regex_replacements() {
        let url = Regex::new(r"(?i)\b(?:https?://|www\.)\S+").unwrap();
        let handle =
            Regex::new(r"(^|[^\w@])@[A-Za-z0-9_]+(?:@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+)?").unwrap();
        let pieces = [
            "@acme",
            "@bob@mastodon.social",
            "a@b.com",
            "x@y",
            "@",
            "@@x",
            "@_u",
            "é@x",
            "@x.y",
            "@a@b",
            "@a@b.c",
            "@a@-.c",
            "@a@b.c.",
            "@a@b.c-",
            "http://t.co/x",
            "https://",
            "HTTP://X.COM/a",
            "hTTpſ://x",
            "httpſ://",
            "www.",
            "WWW.foo",
            "wWw.x",
            "xwww.bar",
            "_www.x",
            "éwww.x",
            "٣www.x",
            "😀www.x",
            "1http://x",
            "http:// x",
            "ftp://x",
            "hello",
            "😀",
            "日本",
            "—",
            "'",
            "?",
            ".",
            ",",
            "-",
            "_",
            " ",
            "  ",
            "\t",
            "\u{a0}",
            "\u{2003}",
            "(@bob)",
            "@bob's",
            ":@x",
            "-@x",
            "ǅ",
            "٣",
            "Ⅻ",
            "\u{301}",
            "@ab_c@d-e.f-g.h",
            "www.x.com/@y",
            "http://x@y.com",
        ];
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut next = |m: usize| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % m as u64) as usize
        };
        for _ in 0..20_000 {
            let mut t = String::new();
            for _ in 0..next(10) {
                t.push_str(pieces[next(pieces.len())]);
                t.push_str(["", " ", ",", "\t"][next(4)]);
            }
            assert_eq!(remove_urls(&t), url.replace_all(&t, ""), "{t:?}");
            let removed = remove_handles(&t);
            assert_eq!(removed, handle.replace_all(&t, "$1"), "{t:?}");
            assert_eq!(
                remove_handles_tidied(&t),
                (removed != t).then(|| tidy_whitespace(&removed)),
                "{t:?}"
            );
        }
    }

    /// The one-pass markup check equals the searches it replaces.
    #[test]
    fn has_markup_equals_the_searches() {
        let slow = |text: &str| {
            text.contains('<')
                || text.contains('&')
                || text.contains('@')
                || (text.contains(':') && text.contains("://"))
                || (text.contains('.') && (text.contains("www.") || text.contains("WWW.")))
        };
        let mut texts: Vec<String> = [
            "",
            "plain",
            "a < b",
            "x & y",
            "@acme",
            "time: 10:30",
            "http://x",
            "see https://t.co/a",
            "end.",
            "www.x.com",
            "WWW.X.COM",
            "Www.x",
            "wwW.",
            ":/ /",
            "é@",
            "☃://",
        ]
        .map(String::from)
        .to_vec();
        if let Some(all) = shared_text("vader/tweets_GroundTruth.txt") {
            texts.extend(all.lines().map(String::from));
        }
        for t in &texts {
            assert_eq!(has_markup(t), slow(t), "{t:?}");
        }
    }
}
