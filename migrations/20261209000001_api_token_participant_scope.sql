-- A third token scope: 'participant' may read one participant's own data (goals, daily steps,
-- valid days, time zone), which 'read' no longer may; 'admin' still may do everything.
ALTER TABLE api_tokens DROP CONSTRAINT IF EXISTS api_tokens_scope_check;
ALTER TABLE api_tokens
    ADD CONSTRAINT api_tokens_scope_check CHECK (scope IN ('read', 'participant', 'admin'));
