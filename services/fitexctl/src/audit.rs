//! `fitexctl audit list`: what operators changed by hand (a closed season's corrected totals),
//! who, when and why.

use clap::Subcommand;
use fitex_goals_store::audit::{self, AuditEntry};
use sqlx::PgPool;

use crate::season::program_named;

#[derive(Subcommand)]
pub enum AuditCommand {
    /// Every recorded change, oldest first: when, who, what (old and new values) and why.
    List {
        /// Only this program's (its name or id).
        #[arg(long)]
        program: Option<String>,
    },
}

pub async fn run(pool: &PgPool, command: AuditCommand) -> anyhow::Result<()> {
    match command {
        AuditCommand::List { program } => {
            let program_id = match program {
                Some(program) => Some(program_named(pool, &program).await?.0),
                None => None,
            };
            let entries = audit::list(pool, program_id).await?;
            if entries.is_empty() {
                println!("no changes recorded");
            }
            for entry in &entries {
                println!("{}", line(entry));
            }
            Ok(())
        }
    }
}

/// One entry on one line: when, who, what, the values before and after, why.
fn line(entry: &AuditEntry) -> String {
    let program = match (&entry.program_name, entry.program_id) {
        (Some(name), _) => format!("{name}: "),
        (None, Some(id)) => format!("program {id}: "),
        (None, None) => String::new(),
    };
    format!(
        "{}  by {}  {}  {program}{}  was {}  now {}  why: {}",
        entry.at.format("%Y-%m-%d %H:%M:%S UTC"),
        entry.actor,
        entry.action,
        entry.subject,
        entry.old_value,
        entry.new_value,
        entry.reason
    )
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    #[test]
    fn an_entry_reads_as_when_who_what_and_why_on_one_line() {
        let entry = AuditEntry {
            id: 1,
            at: chrono::Utc.with_ymd_and_hms(2026, 12, 13, 9, 30, 0).unwrap(),
            actor: "maria".into(),
            action: "season_correct".into(),
            program_id: Some(4),
            program_name: Some("Spring".into()),
            subject: "team South (id 7), week 2".into(),
            old_value: serde_json::json!({"progress": 28000.0}),
            new_value: serde_json::json!({"progress": 70000.0}),
            reason: "sync lost".into(),
        };
        assert_eq!(
            line(&entry),
            "2026-12-13 09:30:00 UTC  by maria  season_correct  Spring: team South (id 7), week 2  \
             was {\"progress\":28000.0}  now {\"progress\":70000.0}  why: sync lost"
        );
        let gone = AuditEntry { program_name: None, ..entry };
        assert!(line(&gone).contains("  program 4: team South"), "{}", line(&gone));
    }
}
