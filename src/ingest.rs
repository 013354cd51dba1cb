//! Ingest: turns a source's `NewMessage`s into `ClassifiedMessage`s (labels from `classify`,
//! redirect detection on brand replies) ready for `Store::ingest`. Shared by every source, the
//! file importers and the demo, so all of them store exactly the same thing.

use std::sync::Arc;

use regex::RegexSet;

use crate::config::Config;
use crate::kpi::threading::ThreadingRules;
use crate::model::{Classification, Direction, NewMessage};
use crate::store::{ClassifiedMessage, IngestRules, Relabel, StoredText};

/// Labels a text: the seam between ingest and the classifier.
pub trait Labeler: Send + Sync {
    fn label(&self, text: &str) -> Classification;
    /// Labels many texts, in order (a labeler may use every core).
    fn label_many(&self, texts: &[&str]) -> Vec<Classification> {
        texts.iter().map(|t| self.label(t)).collect()
    }
    /// Changes whenever the model or the rules change (stored per message, for reclassify).
    fn version(&self) -> &str;
}

/// Everything needed to prepare messages for the store.
#[derive(Clone)]
pub struct Ingestor {
    labeler: Arc<dyn Labeler>,
    redirects: Arc<RegexSet>,
    pub rules: IngestRules,
}

impl Ingestor {
    /// Builds from validated config (patterns were checked at load time).
    pub fn from_config(config: &Config, labeler: Arc<dyn Labeler>) -> anyhow::Result<Ingestor> {
        let patterns: Vec<String> = config
            .care
            .redirect_patterns
            .iter()
            .map(|p| format!("(?i){p}"))
            .collect();
        let redirects =
            RegexSet::new(&patterns).map_err(|e| anyhow::anyhow!("care.redirect_patterns: {e}"))?;
        Ok(Ingestor {
            labeler,
            redirects: Arc::new(redirects),
            rules: IngestRules {
                threading: ThreadingRules {
                    gap: config.care.conversation_gap.as_secs() as i64,
                    actionable: config.care.actionable.clone(),
                },
                auto_resolve_after: config.care.auto_resolve_after.as_secs() as i64,
            },
        })
    }

    pub fn new(
        labeler: Arc<dyn Labeler>,
        redirect_patterns: &[String],
        rules: IngestRules,
    ) -> anyhow::Result<Ingestor> {
        let patterns: Vec<String> = redirect_patterns
            .iter()
            .map(|p| format!("(?i){p}"))
            .collect();
        let redirects =
            RegexSet::new(&patterns).map_err(|e| anyhow::anyhow!("redirect patterns: {e}"))?;
        Ok(Ingestor {
            labeler,
            redirects: Arc::new(redirects),
            rules,
        })
    }

    /// Whether a message is a brand reply sending the customer to another channel.
    fn is_redirect(&self, direction: Direction, text: &str) -> bool {
        direction == Direction::Outbound && self.redirects.is_match(text)
    }

    /// The labeler's version, stored with every message it labels.
    pub fn version(&self) -> &str {
        self.labeler.version()
    }

    /// New labels for stored messages (the same pipeline as `prepare_all`).
    pub fn relabel(&self, stored: &[StoredText]) -> Vec<Relabel> {
        let texts: Vec<&str> = stored.iter().map(|m| m.text.as_str()).collect();
        self.labeler
            .label_many(&texts)
            .into_iter()
            .zip(stored)
            .map(|(classification, m)| Relabel {
                id: m.id,
                classification,
                redirect: self.is_redirect(m.direction, &m.text),
            })
            .collect()
    }

    /// Classifies a batch (on every core when the labeler can).
    pub fn prepare_all(&self, messages: Vec<NewMessage>) -> Vec<ClassifiedMessage> {
        let texts: Vec<&str> = messages.iter().map(|m| m.text.as_str()).collect();
        let labels = self.labeler.label_many(&texts);
        let version: Arc<str> = Arc::from(self.labeler.version());
        messages
            .into_iter()
            .zip(labels)
            .map(|(message, classification)| ClassifiedMessage {
                redirect: self.is_redirect(message.direction, &message.text),
                message,
                classification,
                classifier_version: version.clone(),
            })
            .collect()
    }
}
