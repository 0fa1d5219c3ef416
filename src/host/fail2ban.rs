//! fail2ban jail status, read from fail2ban's own state database.
//!
//! `fail2ban-client status sshd` answers the same question, but it is a Python program that
//! takes longer to start than the rest of triage together. fail2ban records every jail and
//! every current ban (`bips`) in its SQLite database as it acts, so reading that database
//! (read-only) gives the jail's state in a millisecond.

use std::str::FromStr;
use std::time::Duration;

use serde_json::{json, Value};
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{ConnectOptions, Row};

use super::{args, Args, Effect, HostCtx, HostError, HostFn, HostResult, Param, ParamType};

/// Whether a ban recorded at `time_of_ban` for `ban_time` seconds still holds at `now`
/// (fail2ban writes a negative ban time for permanent bans).
pub fn ban_active(time_of_ban: i64, ban_time: i64, now: i64) -> bool {
    ban_time < 0 || time_of_ban + ban_time > now
}

fn jail(ctx: &HostCtx, a: &Args) -> HostResult {
    let name = args::string(a, "name")?;
    let db = ctx.site.paths.fail2ban_db.clone();
    let unreachable = |reason: String| HostError::Unreachable {
        backend: "fail2ban",
        address: db.clone(),
        reason,
    };
    if !std::path::Path::new(&db).exists() {
        return Err(unreachable(
            "no database: is fail2ban installed and has it started?".into(),
        ));
    }
    ctx.block_on(async {
        let opts = SqliteConnectOptions::from_str(&format!("sqlite://{db}"))
            .map_err(|e| unreachable(e.to_string()))?
            .read_only(true)
            .busy_timeout(Duration::from_secs(2));
        let mut conn = opts.connect().await.map_err(|e| unreachable(e.to_string()))?;
        let enabled: Option<i64> = sqlx::query("SELECT enabled FROM jails WHERE name = ?")
            .bind(name)
            .fetch_optional(&mut conn)
            .await
            .map_err(|e| HostError::Failed(format!("reading {db}: {e}")))?
            .map(|r| r.get(0));
        let now = chrono::Utc::now().timestamp();
        let rows = sqlx::query("SELECT ip, timeofban, bantime FROM bips WHERE jail = ? ORDER BY timeofban")
            .bind(name)
            .fetch_all(&mut conn)
            .await
            .map_err(|e| HostError::Failed(format!("reading {db}: {e}")))?;
        let banned: Vec<Value> = rows
            .iter()
            .filter(|r| ban_active(r.get(1), r.get(2), now))
            .map(|r| json!({"ip": r.get::<String, _>(0), "since": r.get::<i64, _>(1), "bantime": r.get::<i64, _>(2)}))
            .collect();
        Ok(json!({
            "jail": name,
            "known": enabled.is_some(),
            "enabled": enabled == Some(1),
            "currently_banned": banned.len(),
            "banned": banned,
            "database": db,
        }))
    })
}

pub static FNS: &[HostFn] = &[HostFn {
    module: "fail2ban",
    name: "jail",
    params: &[Param {
        name: "name",
        ty: ParamType::String,
        optional: false,
        doc: "jail name, e.g. sshd",
    }],
    effect: Effect::Read,
    doc: "{jail, known, enabled, currently_banned, banned: [{ip, since, bantime}], database} from fail2ban's state database",
    run: jail,
    plan: None,
    shell: super::shell::fail2ban_jail,
}];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bans_expire_unless_permanent() {
        assert!(ban_active(1000, 3600, 2000));
        assert!(!ban_active(1000, 3600, 4601));
        assert!(ban_active(1000, -1, 999_999));
    }
}
