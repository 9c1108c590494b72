-- 0003: segmentation flow records and alerts, so that they survive a
-- restart of the server.
--
-- segment_flows holds one row per flow key, as the server aggregates them
-- over every node's shipments: source and destination identity (or, where
-- an endpoint has no identity, its address; '' otherwise), protocol,
-- destination port and verdict. Rows are aggregates, so the table is
-- bounded by the key space (and by the server's cap on keys).
CREATE TABLE segment_flows (
	src        TEXT NOT NULL,
	dst        TEXT NOT NULL,
	src_addr   TEXT NOT NULL,
	dst_addr   TEXT NOT NULL,
	proto      INTEGER NOT NULL CHECK (proto BETWEEN 0 AND 255),
	port       INTEGER NOT NULL CHECK (port BETWEEN 0 AND 65535),
	verdict    INTEGER NOT NULL CHECK (verdict BETWEEN 0 AND 255),
	node       TEXT NOT NULL,
	count      INTEGER NOT NULL CHECK (count >= 0),
	first_seen INTEGER NOT NULL,
	last_seen  INTEGER NOT NULL,
	PRIMARY KEY (src, dst, src_addr, dst_addr, proto, port, verdict)
) STRICT, WITHOUT ROWID;

-- segment_alerts holds flows outside the policy, oldest first by id. The
-- server prunes it by count and by age (received_at, the server's clock).
CREATE TABLE segment_alerts (
	id          INTEGER PRIMARY KEY AUTOINCREMENT,
	time        INTEGER NOT NULL,
	received_at INTEGER NOT NULL,
	node        TEXT NOT NULL,
	mode        INTEGER NOT NULL CHECK (mode BETWEEN 0 AND 255),
	reason      TEXT NOT NULL,
	src         TEXT NOT NULL,
	dst         TEXT NOT NULL,
	src_addr    TEXT NOT NULL,
	dst_addr    TEXT NOT NULL,
	proto       INTEGER NOT NULL CHECK (proto BETWEEN 0 AND 255),
	port        INTEGER NOT NULL CHECK (port BETWEEN 0 AND 65535),
	verdict     INTEGER NOT NULL CHECK (verdict BETWEEN 0 AND 255),
	pkt_src     TEXT NOT NULL,
	pkt_dst     TEXT NOT NULL,
	src_port    INTEGER NOT NULL CHECK (src_port BETWEEN 0 AND 65535),
	dst_port    INTEGER NOT NULL CHECK (dst_port BETWEEN 0 AND 65535),
	direction   INTEGER NOT NULL CHECK (direction BETWEEN 0 AND 255)
) STRICT;
CREATE INDEX segment_alerts_received_at ON segment_alerts (received_at);
