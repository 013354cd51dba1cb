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

static URL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b(?:https?://|www\.)\S+").expect("url pattern is a valid regex literal")
});

static HANDLE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(^|[^\w@])@[A-Za-z0-9_]+(?:@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+)?")
        .expect("handle pattern is a valid regex literal")
});

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

/// `strip_markup`, borrowing `text` when it holds no markup (the common case).
pub fn strip_markup_cow(text: &str) -> Cow<'_, str> {
    let has_markup = text.contains('<')
        || text.contains('&')
        || text.contains("://")
        || text.contains("www.")
        || text.contains("WWW.")
        || text.contains('@');
    if !has_markup {
        return Cow::Borrowed(text);
    }
    Cow::Owned(strip_markup_owned(text))
}

fn strip_markup_owned(text: &str) -> String {
    let mut s: String = if text.contains('<') {
        TAG.replace_all(text, |c: &regex::Captures<'_>| {
            let name = c.get(1).map_or("", |m| m.as_str());
            if is_block_tag(name) {
                "\n"
            } else {
                ""
            }
        })
        .into_owned()
    } else {
        text.to_string()
    };
    if s.contains('&') {
        s = decode_entities(&s);
    }
    if s.contains("://") || s.contains("www.") || s.contains("WWW.") {
        s = URL.replace_all(&s, "").into_owned();
    }
    if s.contains('@') {
        s = HANDLE.replace_all(&s, "$1").into_owned();
    }
    if s.len() != text.len() || s != text {
        tidy_whitespace(&s)
    } else {
        s
    }
}

/// Collapses runs of spaces and tabs left behind by removals and trims the ends. Line breaks
/// are kept (one per run). Token boundaries for VADER are unchanged: it splits on whitespace.
fn tidy_whitespace(s: &str) -> String {
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
}
