# SPDX-License-Identifier: Apache-2.0
"""Upload a body with Python's http.client, requests or botocore.

    python3 python_upload.py URL SIZE MODE

MODE:
  httpclient-expect    http.client.HTTPConnection.request() with
                       Expect: 100-continue set by the application
  requests-expect      requests.post() with Expect: 100-continue
  requests-default     requests.post(), nothing about Expect
  botocore             S3 PutObject with a file body (botocore adds Expect
                       itself); URL is http://HOST:PORT/BUCKET/KEY, and
                       the server answers with the body's MD5 as ETag
  botocore-noexpect    the same with botocore's add_expect_header handler
                       unregistered
  botocore-bytes       S3 PutObject with the body as bytes

Prints one JSON object on stdout.  Run with Debian's /usr/bin/python3 so
that Debian's requests and botocore are the ones measured.
"""
import hashlib
import http.client
import json
import os
import sys
import tempfile
import time
import urllib.parse


def main():
    if len(sys.argv) != 4:
        sys.stderr.write(__doc__)
        return 2
    url, size, mode = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    body = os.urandom(size)
    res = {"client": "python", "mode": mode, "status": None, "error": None,
           "echo_matches": False}
    t0 = time.monotonic()
    try:
        if mode == "httpclient-expect":
            res["version"] = "Python " + sys.version.split()[0]
            u = urllib.parse.urlsplit(url)
            conn = http.client.HTTPConnection(u.hostname, u.port, timeout=20)
            conn.request("POST", f"{u.path}?{u.query}", body=body,
                         headers={"Expect": "100-continue",
                                  "Content-Type": "application/octet-stream"})
            resp = conn.getresponse()
            echo = resp.read()
            res["status"] = resp.status
            res["echo_matches"] = echo == body
        elif mode in ("requests-expect", "requests-default"):
            import requests
            res["version"] = "requests " + requests.__version__
            headers = {"Content-Type": "application/octet-stream"}
            if mode == "requests-expect":
                headers["Expect"] = "100-continue"
            resp = requests.post(url, data=body, headers=headers, timeout=20)
            res["status"] = resp.status_code
            res["echo_matches"] = resp.content == body
        elif mode in ("botocore", "botocore-noexpect", "botocore-bytes"):
            res.update(put_object(url, body, mode))
        else:
            sys.stderr.write(f"unknown MODE {mode}\n")
            return 2
    except Exception as e:  # the outcome is what the application sees
        res["error"] = f"{type(e).__name__}: {e}"
    res["elapsed"] = time.monotonic() - t0
    print(json.dumps(res))
    return 0


def put_object(url, body, mode):
    import botocore
    import botocore.exceptions
    import botocore.handlers
    import botocore.session
    from botocore.config import Config
    out = {"version": "botocore " + botocore.__version__, "echo_matches": False}
    u = urllib.parse.urlsplit(url)
    bucket, key = u.path.lstrip("/").split("/", 1)
    session = botocore.session.get_session()
    client = session.create_client(
        "s3", region_name="us-east-1",
        endpoint_url=f"http://{u.netloc}",
        aws_access_key_id="AKIDEXAMPLE",
        aws_secret_access_key="dummy-secret-for-a-test-server",
        config=Config(s3={"addressing_style": "path"}))
    if mode == "botocore-noexpect":
        # botocore registers it for every S3 call (handlers.py,
        # 'before-call.s3'); this is how an application removes it.
        client.meta.events.unregister("before-call.s3",
                                      botocore.handlers.add_expect_header)
    # A file body: the case botocore adds Expect for.
    with tempfile.TemporaryFile() as f:
        f.write(body)
        f.seek(0)
        try:
            resp = client.put_object(Bucket=bucket, Key=key,
                                     Body=body if mode == "botocore-bytes" else f)
            meta = resp["ResponseMetadata"]
            out["status"] = meta["HTTPStatusCode"]
            out["retries"] = meta.get("RetryAttempts", 0)
            # The test server's ETag is the MD5 of the body it read.
            out["echo_matches"] = (resp.get("ETag", "").strip('"')
                                   == hashlib.md5(body).hexdigest())
        except botocore.exceptions.ClientError as e:
            meta = e.response["ResponseMetadata"]
            out["status"] = meta["HTTPStatusCode"]
            out["retries"] = meta.get("RetryAttempts", 0)
            out["error"] = f"ClientError: {e}"
    return out


if __name__ == "__main__":
    sys.exit(main())
