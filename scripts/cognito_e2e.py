#!/usr/bin/env python3
"""End to end with a real Cognito emulator: cognito-local invokes the real function
(under `cargo lambda watch`) through the Lambda Invoke API for its user pool triggers.

Between them sits a small proxy that turns `cargo lambda watch`'s answer to a function
error (HTTP 500 with the error document) into what Lambda itself answers (200 with
`X-Amz-Function-Error: Unhandled`), so that cognito-local reports the error the way
Cognito does: `UserLambdaValidationException: ... failed with error <message>.`

Usage: cognito_e2e.py FUNCTION_PORT ZUPLO_URL COGNITO_LOCAL_DIR
Asserts; exits non-zero with the failed check. Prints what it checked.
"""
import base64
import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import boto3
from botocore.config import Config

FN_PORT, ZUPLO_URL, CL_DIR = sys.argv[1], sys.argv[2], sys.argv[3]
FUNCTION = "zuplo-auth-hooks"
CLAIM = "zuplo_consumer_id"
PASSWORD = "Passw0rd!x"


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class LambdaErrorProxy(BaseHTTPRequestHandler):
    upstream = f"http://127.0.0.1:{FN_PORT}"

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("content-length", 0)))
        req = urllib.request.Request(self.upstream + self.path, data=body, method="POST",
                                     headers={"content-type": "application/json"})
        extra = {}
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                status, out = r.status, r.read()
        except urllib.error.HTTPError as e:
            out = e.read()
            try:
                document = json.loads(out)
            except ValueError:
                document = {}
            if e.code == 500 and "errorMessage" in document:
                status, extra = 200, {"X-Amz-Function-Error": "Unhandled"}
            else:
                status = e.code
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        for k, v in extra.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    def log_message(self, *args):
        pass


def claims_of(jwt):
    payload = jwt.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def standin(path):
    with urllib.request.urlopen(f"{ZUPLO_URL}/__standin/{path}") as r:
        return json.load(r)


def check(condition, what):
    if not condition:
        print(f"FAILED: {what}", file=sys.stderr)
        sys.exit(1)
    print(f"  ok: {what}")


def main():
    proxy_port = free_port()
    proxy = ThreadingHTTPServer(("127.0.0.1", proxy_port), LambdaErrorProxy)
    threading.Thread(target=proxy.serve_forever, daemon=True).start()

    cognito_port = free_port()
    run_dir = os.path.join(CL_DIR, ".cognito-e2e")
    os.makedirs(os.path.join(run_dir, ".cognito"), exist_ok=True)
    with open(os.path.join(run_dir, ".cognito", "config.json"), "w") as f:
        json.dump({
            "LambdaClient": {
                "endpoint": f"http://127.0.0.1:{proxy_port}", "region": "us-east-1",
                "credentials": {"accessKeyId": "local", "secretAccessKey": "local"},
                # Cognito does not retry a function error; neither may the emulator.
                "maxRetries": 0,
            },
            "TriggerFunctions": {"PreSignUp": FUNCTION, "PostConfirmation": FUNCTION,
                                 "PreTokenGeneration": FUNCTION},
        }, f)
    log = open(os.path.join(run_dir, "cognito-local.log"), "w")
    emulator = subprocess.Popen(
        [os.path.join(CL_DIR, "node_modules", ".bin", "cognito-local")], cwd=run_dir,
        env={**os.environ, "HOST": "127.0.0.1", "PORT": str(cognito_port)},
        stdout=log, stderr=subprocess.STDOUT)
    try:
        endpoint = f"http://127.0.0.1:{cognito_port}"
        for _ in range(200):
            try:
                urllib.request.urlopen(endpoint + "/health", timeout=1)
                break
            except OSError:
                time.sleep(0.1)
        else:
            sys.exit("cognito-local did not start; see " + log.name)
        run(boto3.client(
            "cognito-idp", endpoint_url=endpoint, region_name="us-east-1",
            aws_access_key_id="local", aws_secret_access_key="local",
            config=Config(retries={"max_attempts": 1})))
    finally:
        emulator.terminate()
        emulator.wait(timeout=10)
        proxy.shutdown()


def run(idp):
    pool = idp.create_user_pool(PoolName="e2e", UsernameAttributes=["email"])["UserPool"]["Id"]
    client = idp.create_user_pool_client(UserPoolId=pool, ClientName="app")["UserPoolClient"]["ClientId"]
    email = f"ivy-{int(time.time() * 1000)}@example.com"
    print(f"cognito-local pool {pool}, user {email}")

    signed_up = idp.sign_up(ClientId=client, Username=email, Password=PASSWORD,
                            UserAttributes=[{"Name": "email", "Value": email}])
    sub = signed_up["UserSub"]
    check(standin("consumers") == [] or all(c["metadata"].get("userId") != sub for c in standin("consumers")),
          "pre sign-up provisions nothing")

    idp.admin_confirm_sign_up(UserPoolId=pool, Username=email)
    mine = [c for c in standin("consumers") if c["metadata"].get("userId") == sub]
    check(len(mine) == 1, "post confirmation created exactly one consumer for the user")
    consumer = mine[0]
    check(consumer["managers"] == [email], f"the consumer's manager is the user's email ({consumer['managers']})")
    check(consumer["metadata"].get("provider") == "cognito", "the consumer is tagged as a Cognito user's")

    auth = idp.initiate_auth(ClientId=client, AuthFlow="USER_PASSWORD_AUTH",
                             AuthParameters={"USERNAME": email, "PASSWORD": PASSWORD})["AuthenticationResult"]
    id_claims = claims_of(auth["IdToken"])
    check(id_claims.get(CLAIM) == consumer["id"],
          f"the ID token of the sign-in carries the consumer ID ({id_claims.get(CLAIM)})")
    check(id_claims.get("sub") == sub, "the ID token's other claims are Cognito's")

    calls_before = len(standin("calls"))
    refreshed = idp.initiate_auth(ClientId=client, AuthFlow="REFRESH_TOKEN_AUTH",
                                  AuthParameters={"REFRESH_TOKEN": auth["RefreshToken"]})["AuthenticationResult"]
    check(claims_of(refreshed["IdToken"]).get(CLAIM) == consumer["id"],
          "the refreshed ID token carries the same consumer ID")
    check(len(standin("calls")) == calls_before, "the refresh made no Zuplo call")
    check(len([c for c in standin("consumers") if c["metadata"].get("userId") == sub]) == 1,
          "still exactly one consumer for the user")

    try:
        idp.sign_up(ClientId=client, Username="mallory@elsewhere.test", Password=PASSWORD,
                    UserAttributes=[{"Name": "email", "Value": "mallory@elsewhere.test"}])
        check(False, "a sign-up outside the allowed domains is refused")
    except idp.exceptions.UserLambdaValidationException as e:
        message = str(e)
        check("Sign-up with this email address is not allowed" in message,
              f"the refusal reaches the client with its message: {message}")
        check("SIGNUP_" not in message, "the refusal names no configuration")


if __name__ == "__main__":
    main()
