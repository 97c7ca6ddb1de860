DROP TABLE IF EXISTS audit_log, event_effects, events, sessions, team_members, users, scim_tokens, organizations;
DROP FUNCTION IF EXISTS audit_log_append_only(), events_notify();
