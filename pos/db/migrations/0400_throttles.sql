-- Throttles shared by every process of the service: one token bucket per key, so a limit
-- holds across `pos run --workers N`, across several machines and across restarts (an
-- in-memory limiter multiplied with the processes and reset on every start).
--
-- Keys name what is limited and for whom, never a secret: `code-till:<till id>`,
-- `code:<hash of a manual code>`, `pairing:<client address>`, `sign-in:<client address>`,
-- `holder:<client address>`.

CREATE TABLE throttles (
    key        text PRIMARY KEY,
    tokens     double precision NOT NULL,   -- what is left in the bucket at updated_at
    updated_at timestamptz NOT NULL
);
CREATE INDEX throttles_updated ON throttles (updated_at);

-- Take one token from the bucket `p_key` (refilled at p_per_minute a minute, holding at most
-- p_per_minute); true when there was one. A refused call takes nothing, so a caller that
-- keeps hammering waits no longer than one that pauses. One statement's worth of work under
-- the row lock, so concurrent callers in different processes count exactly.
CREATE FUNCTION pos_throttle_take(p_key text, p_per_minute integer) RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
    v_now    timestamptz := clock_timestamp();
    v_tokens double precision;
BEGIN
    INSERT INTO throttles (key, tokens, updated_at) VALUES (p_key, p_per_minute, v_now)
    ON CONFLICT (key) DO NOTHING;
    SELECT LEAST(p_per_minute::double precision,
                 tokens + GREATEST(EXTRACT(EPOCH FROM v_now - updated_at), 0)
                          * p_per_minute / 60.0)
      INTO v_tokens
      FROM throttles WHERE key = p_key FOR UPDATE;
    IF v_tokens >= 1 THEN
        UPDATE throttles SET tokens = v_tokens - 1, updated_at = v_now WHERE key = p_key;
        RETURN true;
    END IF;
    UPDATE throttles SET tokens = v_tokens, updated_at = v_now WHERE key = p_key;
    RETURN false;
END $$;
