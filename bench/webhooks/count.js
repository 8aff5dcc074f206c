// A webhook receiver that answers 200 and prints the rate once it has
// counted N requests: node count.js N (listens on 127.0.0.1:9100).
const http = require("http"); let n = 0, t0 = 0; const want = Number(process.argv[2]);
http.createServer((req, res) => { req.on("data", () => {}); req.on("end", () => { if (!t0) t0 = Date.now(); n++; res.writeHead(200).end();
  if (n === want) { console.log(`${n} in ${(Date.now() - t0) / 1000}s = ${Math.round(n / ((Date.now() - t0) / 1000))}/s`); process.exit(0); } }); }).listen(9100, "127.0.0.1");
