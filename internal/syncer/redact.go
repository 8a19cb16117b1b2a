package syncer

import "regexp"

// What the status API and page serve may quote errors from client-go and
// go-git, and those quote URLs: a git remote's user:token@, a request's
// query string. redact removes both from everything served, so that an
// unauthenticated listener shows no credential. Neither pattern crosses a
// backslash or a quote, so JSON string escapes stay whole.
var (
	urlUserinfo = regexp.MustCompile(`([a-zA-Z][a-zA-Z0-9+.-]*://)[^/\s"'<>@\\]*@`)
	urlQuery    = regexp.MustCompile(`([a-zA-Z][a-zA-Z0-9+.-]*://[^\s"'<>?\\]*)\?[^\s"'<>\\]*`)
)

func redact(b []byte) []byte {
	b = urlUserinfo.ReplaceAll(b, []byte("${1}"))
	return urlQuery.ReplaceAll(b, []byte("${1}"))
}

func redactString(s string) string { return string(redact([]byte(s))) }
