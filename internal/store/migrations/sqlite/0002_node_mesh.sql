-- 0002: a node's mesh membership (labels, WireGuard endpoints and listen
-- port, as JSON), given at join.
ALTER TABLE nodes ADD COLUMN mesh BLOB NOT NULL DEFAULT x'';
