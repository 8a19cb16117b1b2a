package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/kcp-dev/tmc"
)

// validateFormatVersion is the version of `tmc validate -o json`.
const validateFormatVersion = "1"

func newValidateCommand() *cobra.Command {
	var output string
	var invf inventoryFlags
	cmd := &cobra.Command{
		Use:   "validate [DIR]",
		Short: "Load, validate and compile the policy tree in DIR (default .)",
		Long: `validate reads every .yaml/.yml file under DIR, decodes the tmc.kcp.io
documents strictly, checks references, selectors, paths, expressions and
templates, renders every workspace with the facts the Cluster objects declare
(no cluster access: manifests, kustomizations, transformations and objects
that two workspaces put on one cluster), and prints every problem with its
file, line and field.
Exit code 0 when the tree is valid, 1 otherwise.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if output != "text" && output != "json" {
				return fmt.Errorf("unknown output format %q: use text or json", output)
			}
			dir := "."
			if len(args) == 1 {
				dir = args[0]
			}
			inv, err := invf.read(cmd, dir, "", false)
			if err != nil {
				return err
			}
			p, err := tmc.LoadPoliciesWith(cmd.Context(), dir, inv)
			var list tmc.ErrorList
			if err != nil && !errors.As(err, &list) {
				return err
			}
			if p != nil {
				// Render every workspace with the declared facts (no cluster
				// access, no network) so that manifest, kustomize,
				// transformation and ownership errors show here too.
				err := (&tmc.Repo{Policies: p}).Validate(cmd.Context())
				if err != nil && !errors.As(err, &list) {
					return err
				}
			}
			view := validateView{w: cmd.OutOrStdout(), json: output == "json"}
			if err := view.show(dir, p, list); err != nil {
				return err
			}
			if len(list) > 0 {
				return &exitCodeError{code: exitError, silent: true}
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "text", "output format: text or json")
	invf.add(cmd, true)
	return cmd
}

// validateResult is the JSON form of `tmc validate`.
type validateResult struct {
	FormatVersion string         `json:"formatVersion"`
	Valid         bool           `json:"valid"`
	Counts        map[string]int `json:"counts,omitempty"`
	Errors        []*tmc.Error   `json:"errors"`
}

type validateView struct {
	w    io.Writer
	json bool
}

func (v validateView) show(dir string, p *tmc.Policies, errs tmc.ErrorList) error {
	res := validateResult{FormatVersion: validateFormatVersion, Valid: len(errs) == 0, Errors: errs}
	if res.Errors == nil {
		res.Errors = []*tmc.Error{}
	}
	if p != nil {
		res.Counts = p.Counts()
	}
	if v.json {
		enc := json.NewEncoder(v.w)
		enc.SetIndent("", "  ")
		return enc.Encode(res)
	}
	if !res.Valid {
		for _, e := range res.Errors {
			fmt.Fprintln(v.w, e.Error())
		}
		fmt.Fprintf(v.w, "\n%s: %d %s\n", dir, len(errs), plural(len(errs), "error", "errors"))
		return nil
	}
	for _, k := range tmc.PolicyKinds {
		names := p.Names(k)
		list := strings.Join(names, ", ")
		if len(names) > 8 {
			list = strings.Join(names[:8], ", ") + fmt.Sprintf(", … (%d more)", len(names)-8)
		}
		fmt.Fprintf(v.w, "%-18s %3d  %s\n", k, res.Counts[k], list)
	}
	fmt.Fprintf(v.w, "%s: valid\n", dir)
	return nil
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
