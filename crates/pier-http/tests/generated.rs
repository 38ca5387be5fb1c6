//! Files generated from the Rust types, committed so the UI and readers
//! never drift from the API: `ui/src/api/types.ts` (ts-rs) and
//! `docs/openapi.json` (utoipa). A stale file fails this test; run it with
//! `PIER_UPDATE_GENERATED=1` to rewrite them.

use std::path::PathBuf;

use pier_workbench::*;
use ts_rs::{Config, TS};

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn typescript() -> String {
    let cfg = Config::new().with_large_int("number");
    let decls = [
        BrokerInfo::decl(&cfg),
        ClientSummary::decl(&cfg),
        TopicSummary::decl(&cfg),
        PartitionSummary::decl(&cfg),
        NewTopic::decl(&cfg),
        TopicUpdate::decl(&cfg),
        ProduceRequest::decl(&cfg),
        Produced::decl(&cfg),
        OffsetRange::decl(&cfg),
        Order::decl(&cfg),
        BrowseQuery::decl(&cfg),
        BrowsePage::decl(&cfg),
        Message::decl(&cfg),
        DeliveryState::decl(&cfg),
        GroupSummary::decl(&cfg),
        GroupMember::decl(&cfg),
        MemberAssignment::decl(&cfg),
        PartitionLag::decl(&cfg),
        OffsetToCommit::decl(&cfg),
        CommitOffsets::decl(&cfg),
        StatsSample::decl(&cfg),
        TopicRate::decl(&cfg),
        GroupRate::decl(&cfg),
        PartitionLagPoint::decl(&cfg),
        QueueRate::decl(&cfg),
        LiveEvent::decl(&cfg),
        QueueSettings::decl(&cfg),
        QueueGroupSummary::decl(&cfg),
        QueueConsumer::decl(&cfg),
        ReceiveRequest::decl(&cfg),
        QueueMessage::decl(&cfg),
        AckKind::decl(&cfg),
        AckItem::decl(&cfg),
        AckRequest::decl(&cfg),
        AckResult::decl(&cfg),
        AckResponse::decl(&cfg),
        LeaseInfo::decl(&cfg),
        Left::decl(&cfg),
        ReplayRequest::decl(&cfg),
        Replayed::decl(&cfg),
        NewSimProducer::decl(&cfg),
        NewSimConsumers::decl(&cfg),
        SimMember::decl(&cfg),
        Simulation::decl(&cfg),
        FaultKind::decl(&cfg),
        ScopeKind::decl(&cfg),
        ParamSpec::decl(&cfg),
        FaultSpec::decl(&cfg),
        FaultRequest::decl(&cfg),
        Fault::decl(&cfg),
        FaultEvent::decl(&cfg),
        TimelineEntry::decl(&cfg),
        Recovery::decl(&cfg),
        FaultStarted::decl(&cfg),
        Durability::decl(&cfg),
        DurabilityUpdate::decl(&cfg),
        ListenerInfo::decl(&cfg),
        SecurityInfo::decl(&cfg),
        UserPassword::decl(&cfg),
        AclResource::decl(&cfg),
        AclOperation::decl(&cfg),
        AclRule::decl(&cfg),
        VerdictRequest::decl(&cfg),
        VerdictResponse::decl(&cfg),
        LedgerStatus::decl(&cfg),
        Counters::decl(&cfg),
        Verdict::decl(&cfg),
        Finding::decl(&cfg),
        FindingKind::decl(&cfg),
        Guarantee::decl(&cfg),
        Expectation::decl(&cfg),
        Span::decl(&cfg),
        RecordRef::decl(&cfg),
        PartitionReport::decl(&cfg),
        GroupKind::decl(&cfg),
        Journey::decl(&cfg),
        JourneyStep::decl(&cfg),
        Anomaly::decl(&cfg),
        LabSummary::decl(&cfg),
        LabVariantSummary::decl(&cfg),
        LabStart::decl(&cfg),
        LabState::decl(&cfg),
        LabRun::decl(&cfg),
        LabLine::decl(&cfg),
        LabReport::decl(&cfg),
        VariantReport::decl(&cfg),
        Said::decl(&cfg),
        Checked::decl(&cfg),
        LabClient::decl(&cfg),
        LabAlert::decl(&cfg),
        LabTimeline::decl(&cfg),
        LabMember::decl(&cfg),
        pier_http::Problem::decl(&cfg),
    ];
    let mut out = String::from(
        "// Generated from Pier's Rust types by crates/pier-http/tests/generated.rs.\n\
         // Do not edit: change the Rust type, then run\n\
         //   PIER_UPDATE_GENERATED=1 cargo nextest run -p pier-http --test generated\n\n",
    );
    for d in decls {
        out.push_str("export ");
        out.push_str(&d);
        out.push_str("\n\n");
    }
    out.truncate(out.trim_end().len());
    out.push('\n');
    out
}

fn check(path: PathBuf, fresh: String) {
    let update = std::env::var_os("PIER_UPDATE_GENERATED").is_some();
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    if committed == fresh {
        return;
    }
    if update {
        std::fs::write(&path, fresh).unwrap();
        return;
    }
    panic!(
        "{} is stale: run `PIER_UPDATE_GENERATED=1 cargo nextest run -p pier-http --test generated` and commit it",
        path.display()
    );
}

#[test]
fn typescript_types_are_fresh() {
    check(repo_root().join("ui/src/api/types.ts"), typescript());
}

#[test]
fn openapi_document_is_fresh() {
    let mut spec = pier_http::openapi().to_pretty_json().unwrap();
    spec.push('\n');
    check(repo_root().join("docs/openapi.json"), spec);
}
