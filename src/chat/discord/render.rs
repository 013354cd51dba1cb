//! Turns a chat-neutral `Post` into Discord's form: one embed (title, description from the
//! lines, fields, colour from the tone, footer, first PNG as the embed image), files as
//! attachments and actions as buttons, all trimmed to Discord's documented limits.

use serenity::all::{ButtonStyle, Colour};
use serenity::builder::{
    CreateActionRow, CreateAttachment, CreateButton, CreateEmbed, CreateEmbedFooter,
    CreateInteractionResponseMessage, CreateMessage, EditInteractionResponse,
};

use crate::digest::post::{Post, Tone};

/// Discord limits (https://discord.com/developers/docs/resources/message#embed-object-embed-limits).
pub const MAX_TITLE: usize = 256;
pub const MAX_DESCRIPTION: usize = 4096;
pub const MAX_FIELDS: usize = 25;
pub const MAX_FIELD_NAME: usize = 256;
pub const MAX_FIELD_VALUE: usize = 1024;
pub const MAX_EMBED_TOTAL: usize = 6000;
pub const MAX_ATTACHMENTS: usize = 10;
pub const MAX_BUTTONS_PER_ROW: usize = 5;
pub const MAX_ROWS: usize = 5;
pub const MAX_BUTTON_LABEL: usize = 80;
pub const MAX_CUSTOM_ID: usize = 100;

/// Footer shown under every embed.
pub const FOOTER: &str = "carepulse";

/// Embed colour for a tone: Discord's own blurple, green, yellow and red.
pub fn tone_colour(tone: Tone) -> Colour {
    Colour::new(match tone {
        Tone::Info => 0x5865F2,
        Tone::Good => 0x57F287,
        Tone::Warning => 0xFEE75C,
        Tone::Alert => 0xED4245,
    })
}

/// Cuts `s` to at most `max` characters, ending with an ellipsis when cut.
pub fn clip(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// Discord rejects empty field names and values; a zero-width space keeps the layout.
fn non_empty(s: String) -> String {
    if s.trim().is_empty() {
        "\u{200b}".to_string()
    } else {
        s
    }
}

/// The embed for a post. Stays within the per-part limits and the 6000-character total.
pub fn embed(post: &Post) -> CreateEmbed {
    let title = clip(
        if post.title.is_empty() {
            FOOTER
        } else {
            &post.title
        },
        MAX_TITLE,
    );
    let mut budget = MAX_EMBED_TOTAL
        .saturating_sub(title.chars().count())
        .saturating_sub(FOOTER.len());
    let mut e = CreateEmbed::new()
        .title(title)
        .colour(tone_colour(post.tone))
        .footer(CreateEmbedFooter::new(FOOTER));
    for f in post.fields.iter().take(MAX_FIELDS) {
        let name = non_empty(clip(&f.name, MAX_FIELD_NAME));
        let value = non_empty(clip(&f.value, MAX_FIELD_VALUE));
        let cost = name.chars().count() + value.chars().count();
        if cost > budget {
            break;
        }
        budget -= cost;
        e = e.field(name, value, f.inline);
    }
    if !post.lines.is_empty() {
        let description = clip(&post.lines.join("\n"), MAX_DESCRIPTION.min(budget));
        if !description.is_empty() {
            e = e.description(description);
        }
    }
    if let Some(png) = post
        .attachments
        .iter()
        .find(|a| a.content_type == "image/png")
    {
        e = e.image(format!("attachment://{}", png.filename));
    }
    e
}

/// The files of a post (at most ten, Discord's limit per message).
pub fn attachments(post: &Post) -> Vec<CreateAttachment> {
    post.attachments
        .iter()
        .take(MAX_ATTACHMENTS)
        .map(|a| {
            let mut file = CreateAttachment::bytes(a.bytes.clone(), a.filename.clone());
            if !a.title.is_empty() {
                file = file.description(clip(&a.title, 1024));
            }
            file
        })
        .collect()
}

/// Buttons for the post's actions, five per row; `custom_id` is the action id.
pub fn buttons(post: &Post) -> Vec<CreateActionRow> {
    post.actions
        .chunks(MAX_BUTTONS_PER_ROW)
        .take(MAX_ROWS)
        .map(|chunk| {
            CreateActionRow::Buttons(
                chunk
                    .iter()
                    .map(|a| {
                        CreateButton::new(clip(&a.id, MAX_CUSTOM_ID))
                            .label(clip(&a.label, MAX_BUTTON_LABEL))
                            .style(ButtonStyle::Secondary)
                    })
                    .collect(),
            )
        })
        .collect()
}

/// A channel message for the post.
pub fn message(post: &Post) -> CreateMessage {
    let mut m = CreateMessage::new()
        .embed(embed(post))
        .add_files(attachments(post));
    let rows = buttons(post);
    if !rows.is_empty() {
        m = m.components(rows);
    }
    m
}

/// An immediate interaction answer (type 4) for the post; honours `ephemeral`.
pub fn interaction_message(post: &Post) -> CreateInteractionResponseMessage {
    let mut m = CreateInteractionResponseMessage::new()
        .embed(embed(post))
        .add_files(attachments(post))
        .ephemeral(post.ephemeral);
    let rows = buttons(post);
    if !rows.is_empty() {
        m = m.components(rows);
    }
    m
}

/// The edit of a deferred answer (PATCH .../messages/@original) with the post.
pub fn interaction_edit(post: &Post) -> EditInteractionResponse {
    let mut m = EditInteractionResponse::new().embed(embed(post));
    for file in attachments(post) {
        m = m.new_attachment(file);
    }
    let rows = buttons(post);
    if !rows.is_empty() {
        m = m.components(rows);
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::digest::post::{Action, Attachment};

    fn json<T: serde::Serialize>(v: &T) -> serde_json::Value {
        serde_json::to_value(v).expect("builders serialise")
    }

    #[test]
    fn embed_carries_title_fields_lines_colour_footer_and_chart() {
        let mut post = Post::new("Daily digest")
            .field("Mentions", "120", true)
            .field("", "", false)
            .line("**Top story**: delivery delays")
            .line("<https://example.com/x>");
        post.tone = Tone::Alert;
        post.attachments
            .push(Attachment::png("volume.png", "Volume", vec![1, 2, 3]));
        let v = json(&embed(&post));
        assert_eq!(v["title"], "Daily digest");
        assert_eq!(v["color"], 0xED4245);
        assert_eq!(v["footer"]["text"], FOOTER);
        assert_eq!(v["fields"][0]["name"], "Mentions");
        assert_eq!(v["fields"][0]["inline"], true);
        assert_eq!(v["fields"][1]["name"], "\u{200b}");
        assert_eq!(
            v["description"],
            "**Top story**: delivery delays\n<https://example.com/x>"
        );
        assert_eq!(v["image"]["url"], "attachment://volume.png");
    }

    #[test]
    fn oversized_posts_are_trimmed_to_discord_limits() {
        let mut post = Post::new("t".repeat(300));
        for i in 0..40 {
            post = post.field(format!("f{i}"), "v".repeat(2000), false);
        }
        post.lines.push("x".repeat(10_000));
        let v = json(&embed(&post));
        let title = v["title"].as_str().unwrap_or_default();
        assert_eq!(title.chars().count(), MAX_TITLE);
        let fields = v["fields"].as_array().cloned().unwrap_or_default();
        assert!(fields.len() <= MAX_FIELDS);
        let mut total = title.chars().count() + FOOTER.len();
        for f in &fields {
            let value = f["value"].as_str().unwrap_or_default().chars().count();
            assert!(value <= MAX_FIELD_VALUE);
            total += value + f["name"].as_str().unwrap_or_default().chars().count();
        }
        total += v["description"]
            .as_str()
            .map(|d| d.chars().count())
            .unwrap_or(0);
        assert!(total <= MAX_EMBED_TOTAL, "embed total {total}");
    }

    #[test]
    fn actions_become_button_rows_of_five() {
        let mut post = Post::new("Alert");
        for i in 0..7 {
            post.actions.push(Action {
                id: format!("ack:{i}"),
                label: format!("Ack {i}"),
            });
        }
        let rows = json(&buttons(&post));
        let rows = rows.as_array().cloned().unwrap_or_default();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0]["components"].as_array().map(Vec::len), Some(5));
        assert_eq!(rows[1]["components"][1]["custom_id"], "ack:6");
        assert_eq!(rows[1]["components"][1]["label"], "Ack 6");
    }

    #[test]
    fn ephemeral_answers_carry_the_flag() {
        let v = json(&interaction_message(&Post::usage_error("expected a date")));
        assert_eq!(v["flags"], 64);
        let v = json(&interaction_message(&Post::new("ok")));
        assert!(v.get("flags").is_none() || v["flags"] == 0);
    }
}
