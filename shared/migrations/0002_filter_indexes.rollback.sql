-- pg_trgm stays installed: it may predate this migration, and other objects may use it.
DROP INDEX IF EXISTS users_org_user_name_prefix_idx, users_org_email_prefix_idx, users_user_name_trigram_idx,
    users_email_trigram_idx;
