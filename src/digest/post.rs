//! `Post`: a chat-neutral message (title, fields, lines, charts, files) that every chat
//! transport turns into its own form. Built by `digest`, `commands` and `alerts`.

use serde::{Deserialize, Serialize};

/// The mood of a post, which transports show as a colour or an emoji.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Tone {
    #[default]
    Info,
    Good,
    Warning,
    Alert,
}

/// One labelled value, shown side by side with others where the transport can.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Field {
    pub name: String,
    pub value: String,
    pub inline: bool,
}

/// A file sent with a post: a PNG chart or a CSV export.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Attachment {
    pub filename: String,
    pub content_type: String,
    pub title: String,
    #[serde(skip)]
    pub bytes: Vec<u8>,
}

impl Attachment {
    pub fn png(filename: impl Into<String>, title: impl Into<String>, bytes: Vec<u8>) -> Self {
        Attachment {
            filename: filename.into(),
            content_type: "image/png".into(),
            title: title.into(),
            bytes,
        }
    }

    pub fn csv(filename: impl Into<String>, title: impl Into<String>, bytes: Vec<u8>) -> Self {
        Attachment {
            filename: filename.into(),
            content_type: "text/csv".into(),
            title: title.into(),
            bytes,
        }
    }
}

/// A button under a post (alerts: acknowledge, snooze). `id` comes back to the bot.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Action {
    pub id: String,
    pub label: String,
}

/// A chat-neutral message.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Post {
    pub title: String,
    /// One link-free line for notifications and previews.
    pub summary: String,
    pub fields: Vec<Field>,
    /// Body lines, in order (markdown-light: `**bold**` and `<url>` links).
    pub lines: Vec<String>,
    pub attachments: Vec<Attachment>,
    pub actions: Vec<Action>,
    pub tone: Tone,
    /// Only the person who asked sees it (wrong command arguments).
    pub ephemeral: bool,
}

impl Post {
    pub fn new(title: impl Into<String>) -> Self {
        Post {
            title: title.into(),
            ..Post::default()
        }
    }

    /// A short private answer that says what was wrong and what was expected.
    pub fn usage_error(message: impl Into<String>) -> Self {
        let message = message.into();
        Post {
            title: "carepulse".into(),
            summary: message.clone(),
            lines: vec![message],
            tone: Tone::Warning,
            ephemeral: true,
            ..Post::default()
        }
    }

    pub fn field(
        mut self,
        name: impl Into<String>,
        value: impl Into<String>,
        inline: bool,
    ) -> Self {
        self.fields.push(Field {
            name: name.into(),
            value: value.into(),
            inline,
        });
        self
    }

    pub fn line(mut self, line: impl Into<String>) -> Self {
        self.lines.push(line.into());
        self
    }

    /// Plain text rendering, used by the console chat and in logs.
    pub fn to_plain_text(&self) -> String {
        let mut out = String::new();
        out.push_str(&format!("== {} ==\n", self.title));
        let width = self
            .fields
            .iter()
            .map(|f| f.name.chars().count())
            .max()
            .unwrap_or(0);
        for f in &self.fields {
            out.push_str(&format!(
                "  {:<width$}  {}\n",
                f.name,
                f.value,
                width = width
            ));
        }
        for l in &self.lines {
            out.push_str(l);
            out.push('\n');
        }
        for a in &self.actions {
            out.push_str(&format!("  [{}] ({})\n", a.label, a.id));
        }
        out
    }
}
