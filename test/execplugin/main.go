// Command execplugin is a client-go exec credential plugin for tmc's
// tests: it answers an ExecCredential with the bearer token its tokens
// file holds for the cluster's server (client-go hands the server over in
// KUBERNETES_EXEC_INFO when the provider sets provideClusterInfo), and
// appends one line per run to its log — its arguments and the server it
// was asked about — so that a test can tell exactly when and for what it ran.
//
//	execplugin --tokens tokens.json --log runs.log [extra args...]
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
)

func main() {
	var tokensFile, logFile string
	args := os.Args[1:]
	for i := 0; i < len(args); i++ {
		switch args[i] {
		case "--tokens":
			i++
			tokensFile = args[i]
		case "--log":
			i++
			logFile = args[i]
		}
	}
	var info struct {
		Spec struct {
			Cluster struct {
				Server string          `json:"server"`
				Config json.RawMessage `json:"config"`
			} `json:"cluster"`
		} `json:"spec"`
	}
	_ = json.Unmarshal([]byte(os.Getenv("KUBERNETES_EXEC_INFO")), &info)
	server := info.Spec.Cluster.Server
	if logFile != "" {
		f, err := os.OpenFile(logFile, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
		if err == nil {
			fmt.Fprintf(f, "server=%s config=%s args=%s env=%s\n", server, info.Spec.Cluster.Config, strings.Join(os.Args[1:], " "), os.Getenv("TMC_TEST_PLUGIN_ENV"))
			f.Close()
		}
	}
	tokens := map[string]string{}
	if data, err := os.ReadFile(tokensFile); err == nil {
		_ = json.Unmarshal(data, &tokens)
	}
	token, ok := tokens[server]
	if !ok {
		fmt.Fprintf(os.Stderr, "execplugin: no token for server %q\n", server)
		os.Exit(1)
	}
	out := map[string]any{
		"apiVersion": "client.authentication.k8s.io/v1",
		"kind":       "ExecCredential",
		"status":     map[string]any{"token": token},
	}
	_ = json.NewEncoder(os.Stdout).Encode(out)
}
