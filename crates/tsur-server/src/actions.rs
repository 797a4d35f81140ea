//! Operator actions applied to an appeal: the domain rules (lifecycle, pack, deadline rule) in one
//! place. Storage wraps each call in a transaction with the version check and the exactly-once
//! record of the action's id.

use crate::auth::Principal;
use chrono::{DateTime, Utc};
use tsur_core::deadline::DeadlineEngine;
use tsur_core::domain::{
    Answer, AnswerKind, Appeal, Event, EventKind, OrganisationCode, Status, TopicCode,
};
use tsur_core::pack::RegionPack;
use tsur_core::sync::ActionKind;

/// The longest answer or note accepted, in characters.
pub const MAX_ACTION_TEXT_CHARS: usize = 20_000;

/// Escalation targets (п.10.2).
pub const ESCALATION_TARGETS: &[&str] = &["block_head", "head", "curator"];

fn event(kind: EventKind, at: DateTime<Utc>, actor: &str, note: Option<String>) -> Event {
    Event {
        at_utc: at,
        kind,
        actor: actor.to_string(),
        from_status: None,
        to_status: None,
        note,
    }
}

/// Applies one action to `appeal` (already loaded at its current version). On `Err` the caller
/// discards the appeal: nothing of a refused action is kept.
pub fn apply(
    appeal: &mut Appeal,
    action: &ActionKind,
    principal: &Principal,
    pack: &RegionPack,
    engine: &DeadlineEngine,
    now: DateTime<Utc>,
) -> Result<(), String> {
    if !principal.role.may_act() {
        return Err(format!(
            "роль «{}» не может изменять обращения",
            principal.role
        ));
    }
    let actor = principal.user.as_str();
    let status_to = |appeal: &mut Appeal, to: Status, why: Option<String>| {
        appeal
            .change_status(to, now, actor, why)
            .map_err(|e| e.to_string())
    };
    let check_text = |text: &str| -> Result<(), String> {
        if text.trim().is_empty() {
            return Err("пустой текст".into());
        }
        if text.chars().count() > MAX_ACTION_TEXT_CHARS {
            return Err(format!("текст длиннее {MAX_ACTION_TEXT_CHARS} символов"));
        }
        Ok(())
    };
    match action {
        ActionKind::Take => {
            appeal.assignee = Some(actor.to_string());
            appeal.events.push(event(
                EventKind::Assigned,
                now,
                actor,
                Some(actor.to_string()),
            ));
        }
        ActionKind::Assign { to } => {
            check_text(to)?;
            appeal.assignee = Some(to.clone());
            appeal
                .events
                .push(event(EventKind::Assigned, now, actor, Some(to.clone())));
        }
        ActionKind::Classify { topic } => {
            let (block, _) = pack
                .topic(topic)
                .ok_or_else(|| format!("неизвестная тема «{topic}»"))?;
            if !principal.sees(
                Some(block.code.as_str()),
                appeal.municipality.as_ref().map(|m| m.as_str()),
            ) {
                return Err(format!("блок «{}» вне вашей зоны", block.name));
            }
            appeal.block = Some(block.code.clone());
            appeal.topic = Some(TopicCode::new(topic.clone()));
            appeal.events.push(event(
                EventKind::Classified,
                now,
                actor,
                Some(topic.clone()),
            ));
        }
        ActionKind::Route { organisation } => {
            let org = pack
                .organisation(organisation)
                .ok_or_else(|| format!("неизвестная организация «{organisation}»"))?;
            appeal.organisation = Some(OrganisationCode::new(organisation.clone()));
            if appeal.status != Status::Routed {
                status_to(appeal, Status::Routed, Some(org.name.clone()))?;
            }
        }
        ActionKind::SetStatus { status, why } => {
            if matches!(
                status,
                Status::Answered | Status::Merged | Status::Escalated | Status::Extended
            ) {
                return Err(format!(
                    "статус «{}» ставится своим действием (answer, merge_into_problem, mark_duplicate, escalate, extend)",
                    status.label_ru()
                ));
            }
            status_to(appeal, *status, why.clone())?;
        }
        ActionKind::Answer { text, on_merits } => {
            check_text(text)?;
            status_to(appeal, Status::Answered, None)?;
            let kind = if *on_merits {
                AnswerKind::Merits
            } else {
                AnswerKind::Formal
            };
            appeal.answers.push(Answer {
                at_utc: now,
                organisation: appeal.organisation.clone(),
                kind,
                text: text.clone(),
            });
            appeal.answered_utc.get_or_insert(now);
            appeal.events.push(event(
                EventKind::Answered,
                now,
                actor,
                Some(kind.code().to_string()),
            ));
        }
        ActionKind::Escalate { to, why } => {
            if !ESCALATION_TARGETS.contains(&to.as_str()) {
                return Err(format!(
                    "эскалировать можно: {}",
                    ESCALATION_TARGETS.join(", ")
                ));
            }
            let note = Some(match why {
                Some(why) => format!("{to}: {why}"),
                None => to.clone(),
            });
            status_to(appeal, Status::Escalated, note)?;
        }
        ActionKind::Extend { why } => {
            status_to(appeal, Status::Extended, why.clone())?;
            appeal
                .events
                .push(event(EventKind::Extended, now, actor, why.clone()));
            // The rule decides whether another extension is allowed.
            engine.answer_deadline(appeal).map_err(|e| e.to_string())?;
        }
        ActionKind::MergeIntoProblem { problem } => {
            status_to(appeal, Status::Merged, Some(format!("проблема {problem}")))?;
            appeal.problem = Some(*problem);
        }
        ActionKind::MarkDuplicate { of } => {
            if *of == appeal.id {
                return Err("обращение не может быть дубликатом самого себя".into());
            }
            status_to(
                appeal,
                Status::Merged,
                Some(format!("дубликат обращения {of}")),
            )?;
            appeal.duplicate_of = Some(*of);
        }
        ActionKind::Reopen { why } => {
            status_to(appeal, Status::Reopened, why.clone())?;
            appeal.answered_utc = None;
        }
        ActionKind::Note { text } => {
            check_text(text)?;
            appeal
                .events
                .push(event(EventKind::Note, now, actor, Some(text.clone())));
        }
        ActionKind::ConfirmProblem { .. }
        | ActionKind::SplitProblem { .. }
        | ActionKind::MergeProblems { .. } => {
            return Err("действие над проблемой, а не над обращением".into());
        }
    }
    appeal.due_utc = Some(
        engine
            .answer_deadline(appeal)
            .map_err(|e| e.to_string())?
            .due_utc,
    );
    Ok(())
}
