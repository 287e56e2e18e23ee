// SPDX-License-Identifier: Apache-2.0
// Upload a body with Java 17's HTTP clients.  Prints one JSON object.
//
//   java -cp DIR JavaUpload URL SIZE MODE
//   MODE: httpclient-expect     java.net.http.HttpClient, expectContinue(true)
//         httpclient-noexpect   the same with expectContinue(false)
//         urlconnection-expect  HttpURLConnection, setFixedLengthStreamingMode,
//                               Expect: 100-continue set by the application
//
// Neither client reports a 100 to the application, and neither has a
// request timeout unless the application sets one; none is set here.
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.HttpURLConnection;
import java.net.URI;
import java.net.URL;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.security.SecureRandom;
import java.util.Arrays;

public class JavaUpload {
    static long t0;

    static double now() {
        return (System.nanoTime() - t0) / 1e9;
    }

    static String quote(String s) {
        if (s == null) {
            return "null";
        }
        StringBuilder b = new StringBuilder("\"");
        for (char c : s.toCharArray()) {
            if (c == '"' || c == '\\') {
                b.append('\\').append(c);
            } else if (c < 0x20) {
                b.append(String.format("\\u%04x", (int) c));
            } else {
                b.append(c);
            }
        }
        return b.append('"').toString();
    }

    static Integer status;
    static String error;
    static Double firstBodyAt;
    static boolean echoMatches;

    public static void main(String[] args) throws Exception {
        if (args.length != 3) {
            System.err.println("usage: java JavaUpload URL SIZE MODE");
            System.exit(2);
        }
        String url = args[0];
        int size = Integer.parseInt(args[1]);
        String mode = args[2];
        byte[] body = new byte[size];
        new SecureRandom().nextBytes(body);
        t0 = System.nanoTime();
        switch (mode) {
            case "httpclient-expect":
                viaHttpClient(url, body, true);
                break;
            case "httpclient-noexpect":
                viaHttpClient(url, body, false);
                break;
            case "urlconnection-expect":
                viaUrlConnection(url, body);
                break;
            default:
                System.err.println("unknown MODE " + mode);
                System.exit(2);
        }
        System.out.println("{\"client\": \"java\", \"version\": "
                + quote("Java " + System.getProperty("java.version")) + ", \"mode\": " + quote(mode)
                + ", \"status\": " + status + ", \"error\": " + quote(error)
                + ", \"first_body_at\": " + firstBodyAt + ", \"elapsed\": " + now()
                + ", \"echo_matches\": " + echoMatches + "}");
        System.exit(0);
    }

    static void viaHttpClient(String url, byte[] body, boolean expect) {
        HttpClient client = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
        // The publisher notes when the client first asks for the body.
        HttpRequest.BodyPublisher pub = HttpRequest.BodyPublishers.fromPublisher(
                HttpRequest.BodyPublishers.ofByteArray(body), body.length);
        HttpRequest.BodyPublisher noting = new HttpRequest.BodyPublisher() {
            public long contentLength() {
                return pub.contentLength();
            }

            public void subscribe(java.util.concurrent.Flow.Subscriber<? super java.nio.ByteBuffer> s) {
                if (firstBodyAt == null) {
                    firstBodyAt = now();
                }
                pub.subscribe(s);
            }
        };
        HttpRequest req = HttpRequest.newBuilder(URI.create(url))
                .expectContinue(expect)
                .header("Content-Type", "application/octet-stream")
                .POST(noting)
                .build();
        try {
            HttpResponse<byte[]> res = client.send(req, HttpResponse.BodyHandlers.ofByteArray());
            status = res.statusCode();
            echoMatches = Arrays.equals(res.body(), body);
        } catch (IOException | InterruptedException e) {
            error = e.toString();
        }
    }

    static void viaUrlConnection(String url, byte[] body) {
        HttpURLConnection c = null;
        try {
            c = (HttpURLConnection) new URL(url).openConnection();
            c.setRequestMethod("POST");
            c.setDoOutput(true);
            c.setFixedLengthStreamingMode(body.length);
            c.setRequestProperty("Content-Type", "application/octet-stream");
            c.setRequestProperty("Expect", "100-continue");
            // getOutputStream() sends the head and, with Expect set, waits
            // for the 100 before it returns.
            try (OutputStream out = c.getOutputStream()) {
                firstBodyAt = now();
                out.write(body);
            }
        } catch (IOException e) {
            error = e.toString();
        }
        if (c == null) {
            return;
        }
        try {
            status = c.getResponseCode();
            InputStream in = status < 400 ? c.getInputStream() : c.getErrorStream();
            ByteArrayOutputStream got = new ByteArrayOutputStream();
            if (in != null) {
                in.transferTo(got);
            }
            echoMatches = Arrays.equals(got.toByteArray(), body);
        } catch (IOException e) {
            if (error == null) {
                error = e.toString();
            }
        }
    }
}
