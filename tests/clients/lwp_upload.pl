# SPDX-License-Identifier: Apache-2.0
# Upload a body with libwww-perl (LWP::UserAgent): a POST with
# Expect: 100-continue set by the application.  LWP::Protocol::http then
# sends the head alone and waits up to 2 s for a 100.  Prints one JSON
# object on stdout.
#
#   perl lwp_upload.pl URL SIZE MODE
#   MODE: expect | no-expect
use strict;
use warnings;
use JSON::PP;
use LWP::UserAgent;
use HTTP::Request;
use Time::HiRes qw(time);

my ($url, $size, $mode) = @ARGV;
die "usage: perl lwp_upload.pl URL SIZE MODE\n" unless defined $mode;
die "unknown MODE $mode\n" unless $mode eq 'expect' || $mode eq 'no-expect';
open my $rnd, '<:raw', '/dev/urandom' or die "urandom: $!";
my $body = '';
while (length($body) < $size) {
    my $n = read($rnd, $body, $size - length($body), length($body));
    die "urandom: $!" unless $n;
}
close $rnd;
my $ua = LWP::UserAgent->new(timeout => 20);
my @headers = ('Content-Type' => 'application/octet-stream');
push @headers, ('Expect' => '100-continue') if $mode eq 'expect';
my $req = HTTP::Request->new(POST => $url, \@headers, $body);
my $t0 = time;
my $res = $ua->request($req);
my %out = (
    client => 'lwp', version => "libwww-perl $LWP::VERSION", mode => $mode,
    status => undef, error => undef, echo_matches => JSON::PP::false,
);
# LWP reports its own failures as a response with Client-Warning: Internal
# response; the server's answers have no such header.
if (($res->header('Client-Warning') || '') eq 'Internal response') {
    my $msg = $res->message;
    $out{error} = "LWP internal " . $res->code . ": $msg";
} else {
    $out{status} = $res->code + 0;
    $out{echo_matches} = $res->content eq $body ? JSON::PP::true : JSON::PP::false;
}
$out{elapsed} = time - $t0;
print JSON::PP->new->canonical->encode(\%out), "\n";
