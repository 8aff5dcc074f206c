# POST ROOMS x PER chat ops to a roomd (one keep-alive connection, each
# answered after its commit): python3 post.py PORT ROOMS PER
import http.client, sys, json
port=int(sys.argv[1]); rooms=int(sys.argv[2]); per=int(sys.argv[3])
c=http.client.HTTPConnection("127.0.0.1",port)
for i in range(per):
    for r in range(rooms):
        c.request("POST", f"/v1/rooms/b{r}/ops", body=json.dumps({"id":f"x{i}","op":{"k":"chat.post","text":"m"}}))
        resp=c.getresponse(); resp.read()
        if resp.status!=200: print(resp.status); sys.exit(1)
