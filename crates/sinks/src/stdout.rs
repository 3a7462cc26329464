//! `type = "stdout"`: JSON lines on standard output, for containers whose runtime collects it.

use std::io::Write;
use std::sync::Arc;

use crate::deliver::DeliveryError;
use crate::record::Record;

/// The standard-output sink.
pub(crate) struct Stdout;

impl Stdout {
    pub(crate) fn deliver(&mut self, batch: &[Arc<Record>]) -> Result<(), DeliveryError> {
        let mut text = String::with_capacity(batch.len() * 512);
        for r in batch {
            text.push_str(r.json());
            text.push('\n');
        }
        let mut out = std::io::stdout().lock();
        out.write_all(text.as_bytes())
            .and_then(|()| out.flush())
            .map_err(|e| DeliveryError::retry(format!("writing to standard output: {e}")))
    }
}
