#!/bin/sh
# make-corpus.sh - (re)write the seed corpus of the fuzz targets in
# tests/fuzz/corpus/<target>/ from the protocol's own examples (PROTOCOL.md
# sections 1-8) and tokens signed by `roomctl token` with the fuzz secret.
#
# usage: tests/fuzz/make-corpus.sh ROOMCTL_BIN
# Files are small (one message or request each) and named after what they
# hold. Run it after a protocol change; commit the result.
set -eu
ROOMCTL=${1:?usage: make-corpus.sh ROOMCTL_BIN}
DIR=$(cd "$(dirname "$0")" && pwd)/corpus
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
printf 'fuzz-secret' >"$TMP/secret"

put() { # target name content (printf %s, so no escapes are interpreted)
	mkdir -p "$DIR/$1"
	printf '%s' "$3" >"$DIR/$1/$2"
}
token() { # room user role [ttl]: exp is far in the future of FUZZ_NOW_S
	"$ROOMCTL" token --secret-file "$TMP/secret" --room "$1" --user "$2" --role "$3" \
		--ttl "${4:-3600}"
}

rm -rf "$DIR"

# ---- client frames (section 3) ----
put cmsg op-shape-add-stroke '{"t":"op","id":"c1-1","op":{"k":"shape.add","shape":{"id":"s1","type":"stroke","color":1,"points":[[0,0],[1,1],[2,4]]}}}'
put cmsg op-shape-add-rect '{"t":"op","id":"c1-2","op":{"k":"shape.add","shape":{"id":"r1","type":"rect","color":7,"points":[[-5,-5],[5,5]]}}}'
put cmsg op-shape-add-text '{"t":"op","id":"c1-3","op":{"k":"shape.add","shape":{"id":"t1","type":"text","color":0,"points":[[3,3]],"text":"h\u00e9llo \ud83d\ude00"}}}'
put cmsg op-shape-update '{"t":"op","id":"c1-4","op":{"k":"shape.update","id":"s1","set":{"color":3,"points":[[9,9]]}}}'
put cmsg op-shape-delete '{"t":"op","id":"c1-5","op":{"k":"shape.delete","id":"s1"}}'
put cmsg op-board-clear '{"t":"op","id":"c1-6","op":{"k":"board.clear"}}'
put cmsg op-poll-create '{"t":"op","id":"c1-7","op":{"k":"poll.create","poll":{"id":"p1","question":"lunch?","options":["pizza","soup"],"closes_at":1700000100000}}}'
put cmsg op-poll-vote '{"t":"op","id":"c1-8","op":{"k":"poll.vote","poll":"p1","choice":1}}'
put cmsg op-poll-close '{"t":"op","id":"c1-9","op":{"k":"poll.close","poll":"p1"}}'
put cmsg op-chat-post '{"t":"op","id":"c1-10","op":{"k":"chat.post","text":"hi all"}}'
put cmsg op-bad-kind '{"t":"op","id":"c1-11","op":{"k":"shape.explode"}}'
put cmsg op-too-many-options '{"t":"op","id":"x","op":{"k":"poll.create","poll":{"id":"p","question":"q","options":["1","2","3","4","5","6","7","8","9","10","11"]}}}'
put cmsg cursor '{"t":"cursor","x":-12,"y":9007199254740991}'
put cmsg signal '{"t":"signal","data":{"emoji":"wave","to":[1,2,null,true,1.5e3]}}'
put cmsg ping '{"t":"ping","id":42}'
put cmsg ping-string '{"t":"ping","id":"abc"}'
put cmsg unknown-type '{"t":"dance","unknown":1}'
put cmsg not-object '[1,2,3]'
put cmsg escaped-nul '{"t":"op","id":"a\u0000b","op":{"k":"chat.post","text":"x"}}'
put cmsg deep '[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]'

# ---- server frames (section 2) ----
put smsg welcome '{"t":"welcome","v":1,"room":"demo","session":"a1-3","user":"alice","role":"editor","seq":12,"epoch":"e-1f2a","resumed":false,"state":{"shapes":{"s1":{"id":"s1","type":"stroke","color":1,"points":[[0,0],[1,1]],"by":"alice"}},"polls":{"p1":{"id":"p1","question":"lunch?","options":["a","b"],"tally":[3,1],"votes":{"alice":0},"closed":false,"by":"alice"}},"chat":[{"seq":12,"ts":1700000000000,"user":"alice","text":"hi"}]},"peers":[{"session":"a1-2","user":"bob","color":2}],"limits":{"max_frame":65536,"ops_per_sec":50}}'
put smsg welcome-resumed '{"t":"welcome","v":1,"room":"demo","session":"a1-4","user":"bob","role":"viewer","seq":40,"epoch":"e-1f2a","resumed":true,"peers":[],"limits":{"max_frame":65536,"ops_per_sec":50}}'
put smsg event-shape-add '{"t":"event","seq":13,"ts":1700000000123,"session":"a1-2","user":"bob","id":"c2-1","op":{"k":"shape.add","shape":{"id":"r1","type":"rect","color":2,"points":[[0,0],[4,4]]}}}'
put smsg event-vote '{"t":"event","seq":14,"ts":1700000000200,"session":"a1-2","user":"bob","id":"c2-2","op":{"k":"poll.vote","poll":"p1","choice":0,"tally":[4,1]}}'
put smsg event-alarm '{"t":"event","seq":15,"ts":1700000100000,"session":"server","user":"roomd","id":"alarm","op":{"k":"poll.close","poll":"p1"}}'
put smsg ack '{"t":"ack","id":"c1-1","seq":13}'
put smsg reject '{"t":"reject","id":"c1-2","code":"not_found","msg":"shape.update: no shape s9"}'
put smsg presence-join '{"t":"presence","join":{"session":"a1-5","user":"carol","color":5}}'
put smsg presence-leave '{"t":"presence","leave":"a1-5"}'
put smsg cursor '{"t":"cursor","session":"a1-2","x":10,"y":-3}'
put smsg signal '{"t":"signal","session":"a1-2","user":"bob","data":{"k":"v"}}'
put smsg pong '{"t":"pong","id":"p-1","seq":15}'
put smsg error '{"t":"error","code":"bad_json","msg":"not JSON"}'

# ---- snapshots (section 5) ----
put snapshot empty '{"shapes":{},"polls":{},"chat":[]}'
put snapshot protocol-example '{"shapes":{"s1":{"id":"s1","type":"stroke","color":1,"points":[[0,0],[1,1]],"by":"alice"}},"polls":{"p1":{"id":"p1","question":"lunch?","options":["a","b"],"tally":[3,1],"votes":{"alice":0,"bob":0,"carol":0,"dave":1},"closed":false,"by":"alice"}},"chat":[{"seq":12,"ts":1700000000000,"user":"alice","text":"hi"}]}'
put snapshot all-shapes '{"shapes":{"a":{"id":"a","type":"line","color":0,"points":[[1,2],[3,4]],"by":"x"},"b":{"id":"b","type":"rect","color":7,"points":[[-9007199254740991,0],[9007199254740991,1]],"by":"y"},"c":{"id":"c","type":"text","color":3,"points":[[0,0]],"text":"\u00fcber","by":"z"}},"polls":{},"chat":[]}'
put snapshot poll-alarm '{"shapes":{},"polls":{"q":{"id":"q","question":"when?","options":["now","later","never"],"tally":[0,0,0],"votes":{},"closed":false,"closes_at":1700000100000,"by":"bob"},"r":{"id":"r","question":"done","options":["y","n"],"tally":[0,1],"votes":{"carol":1},"closed":true,"by":"carol"}},"chat":[]}'
put snapshot chat '{"shapes":{},"polls":{},"chat":[{"seq":1,"ts":1,"user":"a","text":"one"},{"seq":2,"ts":2,"user":"b","text":"two"},{"seq":5,"ts":9,"user":"a","text":"three"}]}'
put snapshot bad-tally '{"shapes":{},"polls":{"q":{"id":"q","question":"x","options":["a","b"],"tally":[5,0],"votes":{"a":1},"closed":false,"by":"a"}},"chat":[]}'

# ---- apply: lines of <actor byte><op JSON> (fuzz_apply.c) ----
# actor byte: role = byte & 3 (1 viewer, 2 editor, 3 owner), user =
# (byte >> 2) % 4 (alice, bob, carol, roomd). "*" = 0x2a: editor carol,
# "+" = 0x2b: owner carol, "&" = 0x26: editor bob, "\"" = 0x22: editor alice,
# "!" = 0x21: viewer alice.
put apply add-update-delete '*{"k":"shape.add","shape":{"id":"n1","type":"line","color":4,"points":[[0,0],[9,9]]}}
*{"k":"shape.update","id":"n1","set":{"points":[[1,1],[2,2]],"color":5}}
*{"k":"shape.update","id":"t1","set":{"text":"new"}}
*{"k":"shape.delete","id":"r1"}'
put apply polls '&{"k":"poll.vote","poll":"p1","choice":1}
"{"k":"poll.vote","poll":"p1","choice":0}
*{"k":"poll.create","poll":{"id":"p3","question":"again?","options":["a","b"]}}
*{"k":"poll.vote","poll":"p3","choice":1}
&{"k":"poll.close","poll":"p3"}
*{"k":"poll.close","poll":"p3"}
&{"k":"poll.vote","poll":"p2","choice":0}'
put apply chat-and-clear '"{"k":"chat.post","text":"hello"}
*{"k":"board.clear"}
+{"k":"board.clear"}
!{"k":"chat.post","text":"viewer"}'
put apply conflicts '*{"k":"shape.add","shape":{"id":"s1","type":"stroke","color":1,"points":[[0,0]]}}
*{"k":"shape.update","id":"nope","set":{"color":1}}
*{"k":"shape.update","id":"r1","set":{"points":[[0,0]]}}
*{"k":"poll.create","poll":{"id":"p1","question":"dup","options":["a","b"]}}
*{"k":"poll.create","poll":{"id":"late","question":"q","options":["a","b"],"closes_at":1}}'
put apply late-vote '*{"k":"chat.post","text":"1"}
*{"k":"chat.post","text":"2"}
*{"k":"chat.post","text":"3"}
*{"k":"chat.post","text":"4"}
*{"k":"chat.post","text":"5"}
*{"k":"chat.post","text":"6"}
&{"k":"poll.vote","poll":"p1","choice":1}'

# ---- tokens (section 6): mode byte "0" verify, "1" sign JSON, "2" claims ----
put token owner-all "0$(token '*' admin owner)"
put token editor-prefix "0$(token 'team-*' alice editor)"
put token viewer-room "0$(token demo bob viewer)"
put token json-expired '1{"alg":"HS256","typ":"JWT"}
{"sub":"bob","room":"demo","role":"viewer","exp":1600000000}'
put token none-alg '0eyJhbGciOiJub25lIn0.eyJzdWIiOiJhIiwicm9vbSI6IioiLCJyb2xlIjoib3duZXIiLCJleHAiOjQxMDI0NDQ4MDB9.'
put token json-ok '1{"alg":"HS256","typ":"JWT"}
{"sub":"alice","room":"demo","role":"editor","exp":4102444800}'
put token json-dup-key '1{"alg":"HS256"}
{"sub":"alice","sub":"mallory","room":"*","role":"owner","exp":4102444800}'
put token json-bad-alg '1{"alg":"HS512"}
{"sub":"a","room":"*","role":"owner","exp":4102444800}'
put token claims '2alice
team-*
'"$(printf '\003\200\000\000\000\001')"

# ---- WebSocket upgrade URLs (section 1) ----
put url name '/ws/demo?name=alice'
put url resume '/ws/demo?name=bob&client=tui-7f3a&since=12&epoch=e-1f2a'
put url token "/ws/team-a?token=$(token 'team-*' alice editor)"
put url token-wrong-room "/ws/other?token=$(token 'team-*' alice editor)"
put url dots '/ws/a.b-c_d'
put url bad-dotdot '/ws/..?name=x'
put url bad-slash '/ws/a/b'
put url long-client "/ws/r?client=$(printf '%070d' 0)"
put url control-name '/ws/r?name=a%01b&name=second'
put url empty-name '/ws/r?name=&client=c'

# ---- client --url values (roomload, roomtui: libcli/wsurl.h) ----
put wsurl plain 'ws://127.0.0.1:8080'
put wsurl slash 'ws://127.0.0.1:8080/'
put wsurl tls-default-port 'wss://rooms.example.com'
put wsurl v6 'ws://[::1]:9000/'
put wsurl v6-zone 'wss://[fe80::1%eth0]:443'
put wsurl bad-path 'ws://h:1/ws/room'
put wsurl bad-port 'ws://h:65536'
put wsurl bad-userinfo 'ws://u:p@h:1'

# ---- HTTP requests (section 8): path, newline, Authorization ----
put http healthz '/healthz'
put http metrics '/metrics'
put http rooms '/v1/rooms'
put http rooms-slash '/v1/rooms/'
put http room '/v1/rooms/demo'
put http room-bad '/v1/rooms/../etc'
put http room-query '/v1/rooms/demo?x=1'
put http not-found '/v2/rooms'
put http rooms-owner "/v1/rooms
Bearer $(token '*' admin owner)"
put http room-owner-prefix "/v1/rooms/team-a
Bearer $(token 'team-*' admin owner)"
put http room-editor "/v1/rooms/demo
Bearer $(token demo alice editor)"
put http basic-auth '/v1/rooms
Basic YWRtaW46YWRtaW4='
# The same inputs read as Origin (the path) and Host (the header part).
put http ws-no-upgrade '/ws/demo
http://127.0.0.1:8080'
put http origin-same 'http://127.0.0.1:8080/
127.0.0.1:8080'
put http origin-default-port 'https://Example.com:443
example.com'
