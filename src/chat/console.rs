//! The console chat: posts print to stdout (charts and files are written to a folder and their
//! paths printed), and commands typed on stdin are answered in place. The embedded default,
//! so a new user sees the whole bot work in a terminal.

use std::io::Write;
use std::path::PathBuf;

use tokio::io::{AsyncBufRead, AsyncBufReadExt};

use super::{BoxFuture, Chat, ChatError, CommandHandler, Invocation, PostedRef};
use crate::digest::post::Post;

/// Prints posts to a writer (stdout in the app, a buffer in tests).
pub struct ConsoleChat {
    out: std::sync::Mutex<Box<dyn Write + Send>>,
    files_dir: PathBuf,
}

impl ConsoleChat {
    pub fn new(out: Box<dyn Write + Send>, files_dir: PathBuf) -> Self {
        ConsoleChat {
            out: std::sync::Mutex::new(out),
            files_dir,
        }
    }

    fn render(&self, channel: &str, post: &Post) -> Result<String, ChatError> {
        let mut text = format!("\n[#{channel}] {}", post.to_plain_text());
        if !post.attachments.is_empty() {
            std::fs::create_dir_all(&self.files_dir).map_err(|e| {
                ChatError::Permanent(format!("cannot create {}: {e}", self.files_dir.display()))
            })?;
            for a in &post.attachments {
                let path = self.files_dir.join(&a.filename);
                std::fs::write(&path, &a.bytes).map_err(|e| {
                    ChatError::Transient(format!("cannot write {}: {e}", path.display()))
                })?;
                text.push_str(&format!("  📎 {}: {}\n", a.title, path.display()));
            }
        }
        Ok(text)
    }

    fn print(&self, text: &str) -> Result<(), ChatError> {
        let mut out = self
            .out
            .lock()
            .map_err(|_| ChatError::Permanent("console output poisoned".into()))?;
        out.write_all(text.as_bytes())
            .and_then(|_| out.flush())
            .map_err(|e| ChatError::Transient(format!("cannot write to the console: {e}")))
    }
}

impl Chat for ConsoleChat {
    fn name(&self) -> &'static str {
        "console"
    }

    fn post<'a>(
        &'a self,
        channel: &'a str,
        post: &'a Post,
    ) -> BoxFuture<'a, Result<PostedRef, ChatError>> {
        Box::pin(async move {
            let text = self.render(channel, post)?;
            self.print(&text)?;
            Ok(PostedRef(format!("console:{channel}")))
        })
    }
}

/// Reads commands line by line until end of input or shutdown, answering each through `chat`.
/// Blank lines are ignored; anything else goes to the handler, which answers wrong commands
/// with a usage message.
pub async fn command_loop<R: AsyncBufRead + Unpin>(
    input: R,
    chat: &ConsoleChat,
    handler: CommandHandler,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) {
    let mut lines = input.lines();
    loop {
        let line = tokio::select! {
            l = lines.next_line() => l,
            _ = shutdown.changed() => break,
        };
        match line {
            Ok(Some(line)) => {
                let line = line.trim().to_string();
                if line.is_empty() {
                    continue;
                }
                let answer = handler(Invocation {
                    line,
                    user: "console".into(),
                    channel: "console".into(),
                })
                .await;
                if let Err(e) = chat.post("console", &answer).await {
                    tracing::warn!(error = %e, "console answer not printed");
                }
            }
            Ok(None) => break,
            Err(e) => {
                tracing::warn!(error = %e, "cannot read a command from stdin");
                break;
            }
        }
    }
}
