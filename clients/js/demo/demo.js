/*
 * demo.js - roomd's demo page: a whiteboard, polls, chat and the people
 * present with live cursors, on the JS client (window.Roomkit, served at
 * /roomkit.js). Plain DOM and canvas; no framework, no inline script (the
 * page's Content-Security-Policy forbids it).
 *
 * URL: /?room=ROOM (default demo), &name=NAME (else a remembered random
 * one), &token=TOKEN (for a server with a secret).
 */
(function () {
  'use strict';
  var COLORS = ['#1f2937', '#ef4444', '#f59e0b', '#10b981', '#3b82f6', '#8b5cf6', '#ec4899', '#14b8a6'];
  var q = new URLSearchParams(location.search);
  var roomId = q.get('room') || 'demo';
  var name = q.get('name') || localStorage.getItem('roomkit-name');
  if (!name) {
    name = 'guest-' + Math.floor(1000 + Math.random() * 9000);
    localStorage.setItem('roomkit-name', name);
  }
  var $ = function (id) { return document.getElementById(id); };
  var canvas = $('canvas'), ctx = canvas.getContext('2d');
  var room = Roomkit.createRoom({
    url: (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host,
    room: roomId,
    name: name,
    token: q.get('token') || undefined,
  });
  window.room = room; // for the browser test and the curious
  $('room-name').textContent = roomId;
  $('me').textContent = name;

  // ---- small DOM helper: no innerHTML, so user text is never markup ----
  function h(tag, attrs, kids) {
    var el = document.createElement(tag);
    for (var k in attrs || {}) {
      if (k === 'on') for (var ev in attrs.on) el.addEventListener(ev, attrs.on[ev]);
      else if (k === 'text') el.textContent = attrs[k];
      else el.setAttribute(k, attrs[k]);
    }
    (kids || []).forEach(function (c) { if (c) el.appendChild(c); });
    return el;
  }
  function note(msg) { $('note').textContent = msg; }

  // ---- tools and colors ----
  var tool = 'stroke', color = 4, selected = null, gesture = null;
  document.querySelectorAll('[data-tool]').forEach(function (b) {
    b.addEventListener('click', function () { setTool(b.getAttribute('data-tool')); });
  });
  function setTool(t) {
    tool = t;
    if (t !== 'select') select(null);
    document.querySelectorAll('[data-tool]').forEach(function (b) {
      b.classList.toggle('on', b.getAttribute('data-tool') === t);
    });
  }
  COLORS.forEach(function (c, i) {
    var b = h('button', { class: 'swatch', title: 'color ' + i, 'data-color': i, 'aria-label': 'color ' + i });
    b.style.background = c;
    b.addEventListener('click', function () {
      color = i;
      paintPalette();
      if (selected) room.updateShape(selected, { color: i });
    });
    $('palette').appendChild(b);
  });
  function paintPalette() {
    document.querySelectorAll('.swatch').forEach(function (b, i) { b.classList.toggle('on', i === color); });
  }
  paintPalette();
  function select(id) {
    selected = id;
    $('delete').disabled = !id;
    schedule();
  }
  $('delete').addEventListener('click', function () { if (selected) { room.deleteShape(selected); select(null); } });
  document.addEventListener('keydown', function (e) {
    if (e.target.tagName === 'INPUT') return;
    if ((e.key === 'Delete' || e.key === 'Backspace') && selected) { room.deleteShape(selected); select(null); }
    var keys = { p: 'stroke', l: 'line', r: 'rect', t: 'text', s: 'select' };
    if (keys[e.key]) setTool(keys[e.key]);
  });

  // ---- the board ----
  function pos(e) {
    var r = canvas.getBoundingClientRect();
    return [Math.round((e.clientX - r.left) * canvas.width / r.width),
      Math.round((e.clientY - r.top) * canvas.height / r.height)];
  }
  function bbox(s) {
    var xs = s.points.map(function (p) { return p[0]; }), ys = s.points.map(function (p) { return p[1]; });
    if (s.type === 'text') {
      ctx.font = '18px system-ui, sans-serif';
      var w = ctx.measureText(s.text).width;
      return [xs[0], ys[0] - 18, xs[0] + w, ys[0] + 4];
    }
    return [Math.min.apply(null, xs), Math.min.apply(null, ys), Math.max.apply(null, xs), Math.max.apply(null, ys)];
  }
  function hit(p) {
    var shapes = Array.from(room.getSnapshot().state.shapes.values()).reverse();
    for (var i = 0; i < shapes.length; i++) {
      var b = bbox(shapes[i]);
      if (p[0] >= b[0] - 6 && p[0] <= b[2] + 6 && p[1] >= b[1] - 6 && p[1] <= b[3] + 6) return shapes[i];
    }
    return null;
  }
  var moved = function (pts, d) { return pts.map(function (p) { return [p[0] + d[0], p[1] + d[1]]; }); };

  canvas.addEventListener('pointerdown', function (e) {
    var p = pos(e);
    canvas.setPointerCapture(e.pointerId);
    if (tool === 'select') {
      var s = hit(p);
      select(s ? s.id : null);
      if (s) gesture = { kind: 'move', id: s.id, from: p, d: [0, 0] };
    } else if (tool === 'text') {
      var text = $('text-input').value.trim();
      if (text) room.addShape({ type: 'text', color: color, points: [p], text: text });
    } else {
      gesture = { kind: tool, points: [p, p] };
      if (tool === 'stroke') gesture.points = [p];
    }
    schedule();
  });
  canvas.addEventListener('pointermove', function (e) {
    var p = pos(e);
    room.cursor(p[0], p[1]);
    if (!gesture) return;
    if (gesture.kind === 'move') gesture.d = [p[0] - gesture.from[0], p[1] - gesture.from[1]];
    else if (gesture.kind === 'stroke') {
      var last = gesture.points[gesture.points.length - 1];
      if (Math.abs(last[0] - p[0]) + Math.abs(last[1] - p[1]) >= 3 && gesture.points.length < 4096) gesture.points.push(p);
    } else gesture.points[1] = p;
    schedule();
  });
  canvas.addEventListener('pointerup', function () {
    var g = gesture;
    gesture = null;
    if (!g) return;
    if (g.kind === 'move') {
      var s = room.getSnapshot().state.shapes.get(g.id);
      if (s && (g.d[0] || g.d[1])) room.updateShape(g.id, { points: moved(s.points, g.d) });
    } else if (g.kind === 'stroke' || g.points[0][0] !== g.points[1][0] || g.points[0][1] !== g.points[1][1]) {
      room.addShape({ type: g.kind, color: color, points: g.points });
    }
    schedule();
  });

  function drawShape(s, d) {
    var pts = d ? moved(s.points, d) : s.points;
    ctx.strokeStyle = ctx.fillStyle = COLORS[s.color] || '#000';
    ctx.lineWidth = 3;
    ctx.lineJoin = ctx.lineCap = 'round';
    ctx.beginPath();
    if (s.type === 'text') {
      ctx.font = '18px system-ui, sans-serif';
      ctx.fillText(s.text, pts[0][0], pts[0][1]);
    } else if (s.type === 'rect') {
      ctx.strokeRect(pts[0][0], pts[0][1], pts[1][0] - pts[0][0], pts[1][1] - pts[0][1]);
    } else {
      ctx.moveTo(pts[0][0], pts[0][1]);
      if (pts.length === 1) ctx.lineTo(pts[0][0] + 0.1, pts[0][1]);
      pts.slice(1).forEach(function (p) { ctx.lineTo(p[0], p[1]); });
      ctx.stroke();
    }
  }
  function drawBoard(snap) {
    ctx.clearRect(0, 0, canvas.width, canvas.height);
    snap.state.shapes.forEach(function (s) {
      var d = gesture && gesture.kind === 'move' && gesture.id === s.id ? gesture.d : null;
      drawShape(s, d);
      if (s.id === selected) {
        var b = bbox(d ? { type: s.type, text: s.text, points: moved(s.points, d) } : s);
        ctx.save();
        ctx.setLineDash([5, 4]);
        ctx.strokeStyle = '#6b7280';
        ctx.lineWidth = 1;
        ctx.strokeRect(b[0] - 5, b[1] - 5, b[2] - b[0] + 10, b[3] - b[1] + 10);
        ctx.restore();
      }
    });
    if (gesture && gesture.kind !== 'move') drawShape({ type: gesture.kind, color: color, points: gesture.points });
    var peers = new Map(snap.peers.map(function (p) { return [p.session, p]; }));
    snap.cursors.forEach(function (c, session) {
      var p = peers.get(session);
      if (!p) return;
      ctx.fillStyle = COLORS[p.color % 8];
      ctx.beginPath();
      ctx.moveTo(c.x, c.y);
      ctx.lineTo(c.x + 4, c.y + 16);
      ctx.lineTo(c.x + 9, c.y + 10);
      ctx.lineTo(c.x + 16, c.y + 8);
      ctx.closePath();
      ctx.fill();
      ctx.font = '12px system-ui, sans-serif';
      ctx.fillText(p.user, c.x + 14, c.y + 24);
    });
  }

  // ---- side panels: rebuilt only when what they show changed ----
  var shown = {};
  function changed(key, value) {
    var s = JSON.stringify(value);
    if (shown[key] === s) return false;
    shown[key] = s;
    return true;
  }
  function drawPeople(snap) {
    var list = [{ user: (snap.me ? snap.me.user : name) + ' (you)', color: -1 }].concat(snap.peers);
    if (!changed('people', list)) return;
    $('people').replaceChildren.apply($('people'), list.map(function (p) {
      var dot = h('span', { class: 'dot' });
      dot.style.background = p.color < 0 ? '#9ca3af' : COLORS[p.color % 8];
      return h('li', {}, [dot, h('span', { text: p.user })]);
    }));
    $('people-count').textContent = '(' + list.length + ')';
  }
  function drawPolls(snap) {
    var polls = Array.from(snap.state.polls.values()), me = snap.me && snap.me.user;
    if (!changed('polls', [polls, me])) return;
    $('polls').replaceChildren.apply($('polls'), polls.slice().reverse().map(function (p) {
      var total = p.tally.reduce(function (a, b) { return a + b; }, 0);
      var mine = me && p.votes[me];
      var head = h('div', { class: 'q' }, [h('span', { text: p.question }),
        p.closed ? h('span', { class: 'closed', text: 'closed' })
          : p.by === me ? h('button', { 'data-testid': 'poll-close', text: 'Close', on: { click: function () { room.closePoll(p.id); } } }) : null]);
      return h('div', { class: 'poll', 'data-poll': p.id }, [head].concat(p.options.map(function (o, i) {
        var bar = h('button', { class: 'bar' + (mine === i ? ' mine' : ''), 'data-testid': 'vote', 'data-choice': i, title: 'vote', on: { click: function () { room.vote(p.id, i); } } },
          [h('span', { class: 'fill' }), h('span', { class: 'label', text: o })]);
        bar.firstChild.style.width = (total ? (100 * p.tally[i]) / total : 0) + '%';
        if (p.closed) bar.disabled = true;
        return h('div', { class: 'opt' }, [bar, h('span', { class: 'count', 'data-testid': 'count', text: String(p.tally[i]) })]);
      })));
    }));
  }
  function drawChat(snap) {
    var chat = snap.state.chat;
    if (!changed('chat', [chat.length, chat.length && chat[chat.length - 1].id, snap.seq])) return;
    var ol = $('chat'), atEnd = ol.scrollTop + ol.clientHeight >= ol.scrollHeight - 4;
    ol.replaceChildren.apply(ol, chat.map(function (c) {
      return h('li', { class: c.seq > snap.seq ? 'pending' : '', title: new Date(c.ts).toLocaleTimeString() },
        [h('b', { text: c.user }), h('span', { text: c.text })]);
    }));
    if (atEnd) ol.scrollTop = ol.scrollHeight;
  }
  function drawBadge(snap) {
    var b = $('badge'), s = snap.lost && snap.status !== 'live' ? 'lost' : snap.status;
    b.className = 'badge ' + s;
    b.setAttribute('data-status', snap.status);
    b.setAttribute('data-pending', snap.pending);
    b.textContent = (s === 'lost' ? 'offline' : snap.status) + (snap.pending ? ' · ' + snap.pending + ' pending' : '');
  }

  var queued = false;
  function schedule() {
    if (queued) return;
    queued = true;
    requestAnimationFrame(function () {
      queued = false;
      var snap = room.getSnapshot();
      drawBoard(snap);
      drawPeople(snap);
      drawPolls(snap);
      drawChat(snap);
      drawBadge(snap);
    });
  }
  room.subscribe(schedule);
  schedule();

  // ---- forms ----
  $('chat-form').addEventListener('submit', function (e) {
    e.preventDefault();
    var t = $('chat-input').value.trim();
    if (t) room.post(t);
    $('chat-input').value = '';
  });
  $('poll-form').addEventListener('submit', function (e) {
    e.preventDefault();
    var opts = $('poll-o').value.split(',').map(function (s) { return s.trim(); }).filter(Boolean);
    room.createPoll({ question: $('poll-q').value.trim(), options: opts });
    $('poll-q').value = $('poll-o').value = '';
  });
  room.on('reject', function (r) { note('Refused (' + r.error.code + '): ' + r.error.message); });
  room.on('error', function (e) { note('Connection stopped: ' + e.message); });
  room.on('reset', function () { note('The room was reset on the server.'); });
  note('Open this page in another window (same ?room=) to see changes live.');
})();
