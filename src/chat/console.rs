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
    posts: std::sync::atomic::AtomicU64,
}

/// A folder name from a post title: lower-case letters and digits joined by dashes.
fn slug(title: &str) -> String {
    let mut out = String::new();
    for c in title.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
    }
    let trimmed: String = out.trim_end_matches('-').chars().take(60).collect();
    if trimmed.is_empty() {
        "post".into()
    } else {
        trimmed
    }
}

impl ConsoleChat {
    pub fn new(out: Box<dyn Write + Send>, files_dir: PathBuf) -> Self {
        ConsoleChat {
            out: std::sync::Mutex::new(out),
            files_dir,
            posts: std::sync::atomic::AtomicU64::new(0),
        }
    }

    fn render(&self, channel: &str, post: &Post) -> Result<String, ChatError> {
        let mut text = format!("\n[#{channel}] {}", post.to_plain_text());
        if !post.attachments.is_empty() {
            // One folder per post, so a later digest never overwrites an earlier one's charts.
            let n = self
                .posts
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let folder = self.files_dir.join(format!(
                "{}-{n:03}-{}",
                chrono::Utc::now().format("%Y%m%d-%H%M%S"),
                slug(&post.title)
            ));
            std::fs::create_dir_all(&folder).map_err(|e| {
                ChatError::Permanent(format!("cannot create {}: {e}", folder.display()))
            })?;
            for a in &post.attachments {
                let path = folder.join(&a.filename);
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::digest::post::Attachment;

    #[tokio::test]
    async fn every_post_keeps_its_own_chart_files() {
        let dir = tempfile::tempdir().expect("dir");
        let chat = ConsoleChat::new(Box::new(std::io::sink()), dir.path().to_path_buf());
        for bytes in [vec![1u8], vec![2u8]] {
            let mut post = Post::new("carepulse morning digest: yesterday");
            post.attachments = vec![Attachment::png("trend.png", "Trend", bytes)];
            chat.post("care-team", &post).await.expect("post");
        }
        let mut written: Vec<Vec<u8>> = std::fs::read_dir(dir.path())
            .expect("list")
            .map(|e| {
                let folder = e.expect("entry").path();
                assert!(
                    folder
                        .to_string_lossy()
                        .contains("carepulse-morning-digest-yesterday"),
                    "{}",
                    folder.display()
                );
                std::fs::read(folder.join("trend.png")).expect("chart file")
            })
            .collect();
        written.sort();
        assert_eq!(written, vec![vec![1u8], vec![2u8]]);
        assert_eq!(slug("  KPIs today (platform X) "), "kpis-today-platform-x");
        assert_eq!(slug("📎"), "post");
    }
}
