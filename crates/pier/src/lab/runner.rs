//! The lab engine as the workbench sees it (`/api/v1/labs`, the Labs
//! screen): the built-in labs, and a lab file sent as text. Over HTTP a
//! lab may not start programs: `[[variant.app]]` runs only from
//! `pier lab run FILE`, on the command line of the user who wrote it.

use pier_workbench::{
    LabRunner, LabSay, LabStart, LabSummary, LabTask, LabVariantSummary, Workbench, WorkbenchError,
};

use super::{BUILT_IN, Lab, Target, parse, run_lab};

/// Runs labs against the server's own Kafka listener.
#[derive(Debug, Clone)]
pub struct Runner {
    pub kafka_addr: String,
}

fn summary(lab: &Lab, file: &str) -> LabSummary {
    LabSummary {
        name: lab.name.get_ref().clone(),
        title: lab.title.clone(),
        concept: lab.concept.clone(),
        about: lab.about.clone(),
        variants: lab
            .variants
            .iter()
            .map(|v| LabVariantSummary {
                name: v.name.clone(),
                about: v.about.clone(),
            })
            .collect(),
        file: file.to_owned(),
    }
}

impl LabRunner for Runner {
    fn list(&self) -> Vec<LabSummary> {
        BUILT_IN
            .iter()
            .filter_map(|(file, text)| parse(file, text).ok().map(|l| summary(&l, text)))
            .collect()
    }

    fn prepare(
        &self,
        workbench: &Workbench,
        req: &LabStart,
        say: LabSay,
    ) -> Result<(String, String, LabTask), WorkbenchError> {
        let lab = match (&req.name, &req.file) {
            (Some(name), None) => BUILT_IN
                .iter()
                .filter_map(|(file, text)| parse(file, text).ok())
                .find(|l| l.name.get_ref() == name)
                .ok_or_else(|| WorkbenchError::not_found(format!("no built-in lab {name:?}")))?,
            (None, Some(text)) => {
                parse("lab.toml", text).map_err(|e| WorkbenchError::invalid(e.to_string()))?
            }
            _ => {
                return Err(WorkbenchError::invalid(
                    "give either name (a built-in lab) or file (a lab file's text)",
                ));
            }
        };
        let slow = req.slow.unwrap_or(1);
        if !(1..=super::SLOW_MAX).contains(&slow) {
            return Err(WorkbenchError::invalid(format!(
                "slow must be 1..={}, got {slow}",
                super::SLOW_MAX
            )));
        }
        let lab = super::slowed(lab, slow);
        if lab.variants.iter().any(|v| !v.apps.is_empty()) {
            return Err(WorkbenchError::invalid(
                "labs with [[variant.app]] start programs: run them with `pier lab run FILE` \
                 (the HTTP API does not start programs)",
            ));
        }
        let cuts_unsynced = lab.variants.iter().any(|v| {
            !v.fsync
                && v.steps.iter().any(|s| {
                    s.fault
                        .as_ref()
                        .is_some_and(|f| f.kind.get_ref() == "power_loss")
                })
        });
        if cuts_unsynced && !workbench.durability().page_cache_model {
            return Err(WorkbenchError::conflict(format!(
                "lab {:?} cuts the power with fsync off: it needs a broker that models the \
                 page cache (pier serve --page-cache-model; the desktop app always does), \
                 or run it with `pier lab run {}`",
                lab.name.get_ref(),
                lab.name.get_ref()
            )));
        }
        let target = Target {
            workbench: workbench.clone(),
            kafka_addr: self.kafka_addr.clone(),
        };
        let (name, title) = (lab.name.get_ref().clone(), lab.title.clone());
        let task: LabTask = Box::pin(async move {
            run_lab(&target, &lab, say)
                .await
                .map_err(|e| format!("{e:#}"))
        });
        Ok((name, title, task))
    }
}
