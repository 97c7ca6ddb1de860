-- Indexes for case-insensitive filters on userName and emails.value: prefix (sw) and substring (co, ew) matches.
-- depends: 0001_initial

-- eq already has users_org_user_name_key and users_org_email_idx on (org_id, lower(...)).
-- sw: lower(x) LIKE 'prefix%' becomes a range scan on a pattern_ops btree, whatever the database collation.
-- co, ew: trigram GIN indexes answer LIKE '%infix%' and '%suffix'; they also serve sw when a plan is generic.
-- The expressions match those the filter compiler writes (shared/scim/filter_sql.py) exactly.
--
-- fastupdate is off: with it, new users wait in the GIN pending list until the next vacuum, every substring search
-- scans that list, and after a bulk import the planner prefers a sequential scan. Provisioning writes are few and
-- lookups many, so entries go into the index at insert time.

CREATE EXTENSION IF NOT EXISTS pg_trgm;

CREATE INDEX users_org_user_name_prefix_idx ON users (org_id, lower(user_name) text_pattern_ops)
    WHERE deleted_at IS NULL;
CREATE INDEX users_org_email_prefix_idx ON users (org_id, lower(email) text_pattern_ops)
    WHERE deleted_at IS NULL;
CREATE INDEX users_user_name_trigram_idx ON users USING gin (lower(user_name) gin_trgm_ops)
    WITH (fastupdate = off) WHERE deleted_at IS NULL;
CREATE INDEX users_email_trigram_idx ON users USING gin (lower(email) gin_trgm_ops)
    WITH (fastupdate = off) WHERE deleted_at IS NULL;
