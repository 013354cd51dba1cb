//! HTML to plain text for the subset Mastodon puts in `content`: `<p>` (paragraphs), `<br>`
//! (line breaks), `<a>` and `<span>` (kept as their text, so hidden URL parts join up again),
//! and character entities. Any other tag is dropped with its markup, its text kept.

/// Turn Mastodon status HTML into text: paragraphs separated by a blank line, `<br>` as a
/// newline, entities decoded, no trailing whitespace.
pub fn to_text(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut rest = html;
    while let Some(lt) = rest.find('<') {
        push_text(&mut out, &rest[..lt]);
        let after = &rest[lt + 1..];
        let Some(gt) = after.find('>') else {
            // A lone '<' is text.
            push_text(&mut out, &rest[lt..]);
            rest = "";
            break;
        };
        let tag = after[..gt].trim();
        let name: String = tag
            .trim_start_matches('/')
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .collect::<String>()
            .to_ascii_lowercase();
        let closing = tag.starts_with('/');
        match (name.as_str(), closing) {
            ("br", _) => out.push('\n'),
            ("p", false) => {
                let trimmed = out.trim_end_matches([' ', '\n']).len();
                if trimmed > 0 {
                    out.truncate(trimmed);
                    out.push_str("\n\n");
                }
            }
            _ => {}
        }
        rest = &after[gt + 1..];
    }
    push_text(&mut out, rest);
    out.trim().to_string()
}

fn push_text(out: &mut String, raw: &str) {
    let mut rest = raw;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        let after = &rest[amp + 1..];
        match after.find(';').filter(|&i| i <= 10) {
            Some(semi) => match decode_entity(&after[..semi]) {
                Some(c) => {
                    out.push(c);
                    rest = &after[semi + 1..];
                }
                None => {
                    out.push('&');
                    rest = after;
                }
            },
            None => {
                out.push('&');
                rest = after;
            }
        }
    }
    out.push_str(rest);
}

fn decode_entity(name: &str) -> Option<char> {
    if let Some(num) = name.strip_prefix('#') {
        let code = match num.strip_prefix(['x', 'X']) {
            Some(hex) => u32::from_str_radix(hex, 16).ok()?,
            None => num.parse().ok()?,
        };
        return char::from_u32(code);
    }
    Some(match name {
        "amp" => '&',
        "lt" => '<',
        "gt" => '>',
        "quot" => '"',
        "apos" => '\'',
        "nbsp" => ' ',
        "hellip" => '…',
        "mdash" => '—',
        "ndash" => '–',
        "rsquo" => '’',
        "lsquo" => '‘',
        "rdquo" => '”',
        "ldquo" => '“',
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::to_text;

    #[test]
    fn mention_markup_becomes_plain_text() {
        let html = r#"<p><span class="h-card" translate="no"><a href="http://localhost:3000/@mastodonpy_test" class="u-url mention">@<span>mastodonpy_test</span></a></span> hello!</p>"#;
        assert_eq!(to_text(html), "@mastodonpy_test hello!");
    }

    #[test]
    fn paragraphs_breaks_and_entities() {
        let html = "<p>My order &amp; refund&#39;s late</p><p>line one<br>line two<br/>&lt;3 &#x1F600; &bogus; AT&T</p>";
        assert_eq!(
            to_text(html),
            "My order & refund's late\n\nline one\nline two\n<3 😀 &bogus; AT&T"
        );
    }

    #[test]
    fn hidden_url_parts_join_up() {
        let html = r#"<p>see <a href="https://example.com/long/path"><span class="invisible">https://</span><span class="ellipsis">example.com/lo</span><span class="invisible">ng/path</span></a></p>"#;
        assert_eq!(to_text(html), "see https://example.com/long/path");
    }

    #[test]
    fn broken_markup_does_not_lose_text() {
        assert_eq!(to_text("a < b and c"), "a < b and c");
        assert_eq!(to_text("<p>unclosed"), "unclosed");
        assert_eq!(to_text(""), "");
    }
}
