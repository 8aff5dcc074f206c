#!/usr/bin/env node
// node-peer: a reference room server on Node's `ws` package, for
// bench/compare.sh and bench/roomload-compare.sh. It is what a careful Node developer would write for the
// same job: one process, one event loop, rooms in a Map, the event JSON
// stringified once and sent to every other client, optional persistence in
// one SQLite file per room (better-sqlite3, WAL) with the writes of one
// event-loop turn batched into one transaction per room (setImmediate).
//
// It speaks the part of protocol v1 (/work/shared/PROTOCOL.md) that roomload's
// chat and idle scenarios use: welcome (with the last 200 chat posts as
// state), op chat.post -> ack to the sender + event to the others (after the
// commit when --sqlite is on), ping -> pong, reject / error for the rest.
// No auth, no presence (peers is always []), no resume, no other op kinds,
// no rate limits or slow-consumer policy: it does less than roomd.
//
// Usage: node server.js [--listen HOST:PORT] [--sqlite DIR] [--fsync]
//   --listen HOST:PORT  default 127.0.0.1:8090 (port 0 picks a free port)
//   --sqlite DIR        persist events in DIR/<room>.db (WAL, synchronous=NORMAL)
//   --fsync             with --sqlite: synchronous=FULL (fsync every commit)
// Prints "node-peer listening on HOST:PORT" on stderr once it accepts
// connections. SIGTERM/SIGINT: close every socket with 1001 and exit 0.
'use strict';

const http = require('node:http');
const path = require('node:path');
const fs = require('node:fs');
const crypto = require('node:crypto');
const { WebSocketServer } = require('ws');

const ROOM_RE = /^[A-Za-z0-9_-][A-Za-z0-9._-]{0,63}$/;
const CHAT_KEEP = 200;
const MAX_FRAME = 65536;
const OPS_PER_SEC = 1000;

function usage(code) {
	const out = code ? process.stderr : process.stdout;
	out.write('Usage: node server.js [--listen HOST:PORT] [--sqlite DIR] [--fsync]\n');
	process.exit(code);
}

const opts = { host: '127.0.0.1', port: 8090, sqlite: null, fsync: false };
for (let i = 2; i < process.argv.length; i++) {
	const a = process.argv[i];
	if (a === '--listen' && i + 1 < process.argv.length) {
		const m = /^(.*):(\d+)$/.exec(process.argv[++i]);
		if (!m) usage(2);
		opts.host = m[1];
		opts.port = Number(m[2]);
	} else if (a === '--sqlite' && i + 1 < process.argv.length) {
		opts.sqlite = process.argv[++i];
	} else if (a === '--fsync') {
		opts.fsync = true;
	} else if (a === '-h' || a === '--help') {
		usage(0);
	} else {
		usage(2);
	}
}

let Database = null;
if (opts.sqlite) {
	Database = require('better-sqlite3');
	fs.mkdirSync(opts.sqlite, { recursive: true });
}

// ---- rooms -----------------------------------------------------------------

const rooms = new Map(); // name -> room
let nextSession = 1;

function openRoom(name) {
	let room = rooms.get(name);
	if (room) return room;
	room = {
		name,
		seq: 0,
		epoch: crypto.randomBytes(8).toString('hex'),
		clients: new Set(),
		chat: [], // last CHAT_KEEP posts {seq,ts,user,text}
		db: null,
		insert: null,
		pending: [], // with --sqlite: events waiting for this turn's commit
	};
	if (Database) {
		const db = new Database(path.join(opts.sqlite, name + '.db'));
		db.pragma('journal_mode = WAL');
		db.pragma(opts.fsync ? 'synchronous = FULL' : 'synchronous = NORMAL');
		db.exec(`CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT);
			 CREATE TABLE IF NOT EXISTS events(seq INTEGER PRIMARY KEY, ts INTEGER NOT NULL,
				session TEXT NOT NULL, user TEXT NOT NULL, op TEXT NOT NULL);`);
		const e = db.prepare("SELECT value FROM meta WHERE key = 'epoch'").get();
		if (e) room.epoch = e.value;
		else db.prepare("INSERT INTO meta(key, value) VALUES ('epoch', ?)").run(room.epoch);
		room.seq = db.prepare('SELECT COALESCE(MAX(seq), 0) AS s FROM events').get().s;
		const rows = db
			.prepare('SELECT seq, ts, user, op FROM events ORDER BY seq DESC LIMIT ?')
			.all(CHAT_KEEP);
		for (let i = rows.length - 1; i >= 0; i--) {
			const op = JSON.parse(rows[i].op);
			if (op.k === 'chat.post')
				room.chat.push({ seq: rows[i].seq, ts: rows[i].ts, user: rows[i].user, text: op.text });
		}
		const insert = db.prepare('INSERT INTO events(seq, ts, session, user, op) VALUES (?, ?, ?, ?, ?)');
		room.db = db;
		room.insert = insert;
		room.commit = db.transaction((evs) => {
			for (const ev of evs) insert.run(ev.seq, ev.ts, ev.session, ev.user, JSON.stringify(ev.op));
		});
	}
	rooms.set(name, room);
	return room;
}

function closeRoomIfEmpty(room) {
	// In memory the room is its only copy: it stays. On SQLite it reloads.
	if (!room.db || room.clients.size || room.pending.length) return;
	room.db.close();
	rooms.delete(room.name);
}

// Deliver one committed event: ack to the sender, one string to the others.
function publish(room, ev, sender) {
	const msg = JSON.stringify({
		t: 'event', seq: ev.seq, ts: ev.ts, session: ev.session, user: ev.user, id: ev.id, op: ev.op,
	});
	for (const c of room.clients)
		if (c !== sender && c.readyState === 1) c.send(msg);
	if (sender.readyState === 1) sender.send(JSON.stringify({ t: 'ack', id: ev.id, seq: ev.seq }));
}

// --sqlite: everything committed in one event-loop turn goes to disk in one
// transaction per room, then out to the clients (output gate: nothing is
// acked or broadcast before it is in the log).
const dirty = new Set();
let flushScheduled = false;

function flush() {
	flushScheduled = false;
	for (const room of dirty) {
		const evs = room.pending;
		room.pending = [];
		room.commit(evs);
		for (const ev of evs) publish(room, ev, ev.sender);
		if (!room.clients.size) closeRoomIfEmpty(room);
	}
	dirty.clear();
}

function commitOp(room, ws, id, op) {
	const ev = { seq: ++room.seq, ts: Date.now(), session: ws.session, user: ws.user, id, op };
	room.chat.push({ seq: ev.seq, ts: ev.ts, user: ev.user, text: op.text });
	if (room.chat.length > CHAT_KEEP) room.chat.shift();
	if (!room.db) {
		publish(room, ev, ws);
		return;
	}
	ev.sender = ws;
	room.pending.push(ev);
	dirty.add(room);
	if (!flushScheduled) {
		flushScheduled = true;
		setImmediate(flush);
	}
}

// ---- connections -------------------------------------------------------------

function sendError(ws, code, msg) {
	ws.send(JSON.stringify({ t: 'error', code, msg }));
}

function reject(ws, id, code, msg) {
	ws.send(JSON.stringify({ t: 'reject', id, code, msg }));
}

function onMessage(ws, data, isBinary) {
	let m;
	try {
		m = JSON.parse(isBinary ? data.toString('utf8') : data);
	} catch {
		return sendError(ws, 'bad_json', 'not JSON');
	}
	if (m === null || typeof m !== 'object' || typeof m.t !== 'string')
		return sendError(ws, 'bad_message', 't: missing');
	switch (m.t) {
	case 'op': {
		const id = m.id;
		if (typeof id !== 'string' || id.length < 1 || id.length > 64)
			return sendError(ws, 'bad_message', 'id: must be a string of 1-64 chars');
		const op = m.op;
		if (op === null || typeof op !== 'object')
			return reject(ws, id, 'invalid', 'op: must be an object');
		if (op.k !== 'chat.post')
			return reject(ws, id, 'invalid', 'op.k: only chat.post is implemented');
		const text = op.text;
		if (typeof text !== 'string' || text.length < 1 || [...text].length > 2000)
			return reject(ws, id, 'invalid', 'text: must be 1-2000 chars');
		return commitOp(ws.room, ws, id, { k: 'chat.post', text });
	}
	case 'ping':
		return ws.send(JSON.stringify({ t: 'pong', id: m.id ?? null, seq: ws.room.seq }));
	case 'cursor':
	case 'signal':
		return; // ephemeral traffic is dropped: the peer compares op logs, and no compared scenario sends cursors or signals
	default:
		return sendError(ws, 'unknown_type', 't: unknown message type');
	}
}

const wss = new WebSocketServer({
	noServer: true,
	maxPayload: MAX_FRAME,
	perMessageDeflate: false,
	// The subprotocol room.v1 if offered (a client that offers none is accepted).
	handleProtocols: (protocols) => (protocols.has('room.v1') ? 'room.v1' : false),
});

wss.on('connection', (ws, req, roomName, user) => {
	const room = openRoom(roomName);
	ws.room = room;
	ws.session = 's' + (nextSession++).toString(36);
	ws.user = user;
	room.clients.add(ws);
	ws.send(JSON.stringify({
		t: 'welcome', v: 1, room: room.name, session: ws.session, user, role: 'editor',
		seq: room.seq, epoch: room.epoch, resumed: false,
		state: { shapes: {}, polls: {}, chat: room.chat },
		peers: [],
		limits: { max_frame: MAX_FRAME, ops_per_sec: OPS_PER_SEC },
	}));
	ws.on('message', (data, isBinary) => onMessage(ws, data, isBinary));
	ws.on('close', () => {
		room.clients.delete(ws);
		closeRoomIfEmpty(room);
	});
	ws.on('error', () => {});
});

const server = http.createServer((req, res) => {
	if (req.url === '/healthz') {
		res.writeHead(200, { 'content-type': 'text/plain' });
		return res.end('ok\n');
	}
	res.writeHead(404);
	res.end();
});

function refuse(socket, status, text) {
	socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
}

server.on('upgrade', (req, socket, head) => {
	socket.on('error', () => {});
	const url = new URL(req.url, 'http://x');
	const m = /^\/ws\/([^/]+)$/.exec(url.pathname);
	if (!m || !ROOM_RE.test(m[1])) return refuse(socket, 400, 'Bad Request');
	const name = url.searchParams.get('name') || 'anonymous';
	if (name.length > 32) return refuse(socket, 400, 'Bad Request');
	wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req, m[1], name));
});

server.listen(opts.port, opts.host, () => {
	const a = server.address();
	process.stderr.write(`node-peer listening on ${a.address}:${a.port}\n`);
});

function shutdown() {
	server.close();
	for (const ws of wss.clients) ws.close(1001, 'server shutting down');
	if (flushScheduled) flush();
	for (const room of rooms.values()) if (room.db) room.db.close();
	process.exit(0);
}
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
