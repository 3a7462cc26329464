//! `type = "webhook"`: records POSTed over HTTP(S), a JSON array of up to `batch_size` per
//! request, or one rendered `body_template` per record (joined by newlines).

use std::sync::Arc;

use bytes::Bytes;

use crate::deliver::DeliveryError;
use crate::http::HttpClient;
use crate::record::Record;
use crate::template::Template;

/// The webhook sink.
pub(crate) struct Webhook {
    client: HttpClient,
    template: Option<Template>,
}

impl Webhook {
    pub(crate) fn new(client: HttpClient, template: Option<Template>) -> Webhook {
        Webhook { client, template }
    }

    /// The request body of `batch`.
    pub(crate) fn body(&self, batch: &[Arc<Record>]) -> String {
        let mut body = String::with_capacity(batch.len() * 600);
        match &self.template {
            None => {
                body.push('[');
                for (i, r) in batch.iter().enumerate() {
                    if i > 0 {
                        body.push(',');
                    }
                    body.push_str(r.json());
                }
                body.push(']');
            }
            Some(t) => {
                for (i, r) in batch.iter().enumerate() {
                    if i > 0 {
                        body.push('\n');
                    }
                    let value = serde_json::to_value(&r.body).unwrap_or_default();
                    t.render(&value, &mut body);
                }
            }
        }
        body
    }

    pub(crate) async fn deliver(&mut self, batch: &[Arc<Record>]) -> Result<(), DeliveryError> {
        let body = Bytes::from(self.body(batch));
        let path = self.client.target.path.clone();
        self.client.post(&path, body).await
    }

    pub(crate) fn reset(&mut self) {
        self.client.reset();
    }
}
