-- SPDX-License-Identifier: Apache-2.0
-- A stand-in for an S3 PutObject endpoint: read the whole body and answer
-- 200 with its MD5 as the ETag, as S3 does for a single-part upload.
function handle(r)
    if r.method ~= "PUT" then
        return 405
    end
    local body = r:requestbody()
    r.headers_out["ETag"] = '"' .. r:md5(body) .. '"'
    return apache2.OK
end
