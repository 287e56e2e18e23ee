<?php
# SPDX-License-Identifier: Apache-2.0
// Upload a body with PHP's cURL extension, the way an application would:
// CURLOPT_POSTFIELDS with a string, nothing else about Expect unless MODE
// asks for it.  Prints one JSON object on stdout.
//
//   php php_curl_upload.php URL HOST SIZE [MODE]
//   MODE: default | no-expect (CURLOPT_HTTPHEADER 'Expect:')
//         | timeout-ms=N (CURLOPT_EXPECT_100_TIMEOUT_MS)
if ($argc < 4) {
    fwrite(STDERR, "usage: php php_curl_upload.php URL HOST SIZE [MODE]\n");
    exit(2);
}
$url = $argv[1];
$host = $argv[2];
$size = (int)$argv[3];
$mode = $argc > 4 ? $argv[4] : "default";

$body = random_bytes($size);
$headers = ["Host: $host"];
$status_lines = [];
$first_body_at = null;
$t0 = microtime(true);

$ch = curl_init($url);
$verbose = fopen("php://temp", "w+");
$opts = [
    CURLOPT_POST => true,
    CURLOPT_POSTFIELDS => $body,
    CURLOPT_RETURNTRANSFER => true,
    CURLOPT_TIMEOUT => 20,
    CURLOPT_VERBOSE => true,
    CURLOPT_STDERR => $verbose,
    // Every status line the client sees, 1xx included.
    CURLOPT_HEADERFUNCTION => function ($ch, $line) use (&$status_lines) {
        if (preg_match('#^HTTP/\S+\s+(\d{3})#', $line, $m)) {
            $status_lines[] = (int)$m[1];
        }
        return strlen($line);
    },
    // The first time any body byte has gone out: the end of the stall.
    CURLOPT_NOPROGRESS => false,
    CURLOPT_XFERINFOFUNCTION => function ($ch, $dltotal, $dlnow, $ultotal, $ulnow)
            use (&$first_body_at, $t0) {
        if ($ulnow > 0 && $first_body_at === null) {
            $first_body_at = microtime(true) - $t0;
        }
        return 0;
    },
];
if ($mode === "no-expect") {
    $headers[] = "Expect:";
} elseif (strncmp($mode, "timeout-ms=", 11) === 0) {
    $opts[CURLOPT_EXPECT_100_TIMEOUT_MS] = (int)substr($mode, 11);
} elseif ($mode !== "default") {
    fwrite(STDERR, "unknown mode $mode\n");
    exit(2);
}
$opts[CURLOPT_HTTPHEADER] = $headers;
curl_setopt_array($ch, $opts);

$resp = curl_exec($ch);
$elapsed = microtime(true) - $t0;
$errno = curl_errno($ch);
rewind($verbose);
$trace = stream_get_contents($verbose);
$info = curl_getinfo($ch);
curl_close($ch);

// libcurl's verbose trace marks only the first line of each request head
// with "> "; the head runs to the blank line.
preg_match_all('/^> POST .*?\r?\n\r?\n/ms', $trace, $heads);
$requests = count($heads[0]);
$sent_expect = 0;
foreach ($heads[0] as $head) {
    if (preg_match('/^Expect:\s*100-continue/mi', $head)) {
        $sent_expect++;
    }
}
echo json_encode([
    "client" => "php-curl",
    "version" => "PHP " . PHP_VERSION . ", libcurl " . curl_version()["version"],
    "mode" => $mode,
    "status" => $errno ? null : (int)$info["http_code"],
    "error" => $errno ? curl_strerror($errno) : null,
    "statuses" => $status_lines,
    "got_100" => in_array(100, $status_lines, true),
    "requests" => $requests,
    "requests_with_expect" => $sent_expect,
    "waited_for_100" => strpos($trace, "Done waiting for 100-continue") !== false,
    "first_body_at" => $first_body_at,
    "elapsed" => $elapsed,
    "sent" => $size,
    "uploaded" => (int)$info["size_upload"],
    "echoed" => is_string($resp) ? strlen($resp) : 0,
    "echo_matches" => is_string($resp) && $resp === $body,
]) . "\n";
