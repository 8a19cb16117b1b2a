package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/kcp-dev/tmc"
)

// renderFormatVersion is the version of `tmc render -o json`.
const renderFormatVersion = "1"

type renderFlags struct {
	workspace, cluster, output, facts string
	explain                           bool
	inv                               inventoryFlags
}

func newRenderCommand() *cobra.Command {
	var f renderFlags
	cmd := &cobra.Command{
		Use:   "render [DIR]",
		Short: "Print the objects each target cluster must hold (no cluster access)",
		Long: `render loads the policy tree in DIR (default .), chooses each workspace's
target clusters, selects and transforms its objects per cluster, and prints
them. Nothing is written to any cluster.

Cluster facts come from the Cluster objects; --facts FILE adds observed facts
(healthy, kubernetesVersion, nodes, capacity) per cluster name, so that CI can
render without cluster access. --cluster-inventory FILE adds the clusters of a
snapshot of the operator's cluster inventory (ClusterProfiles), with their
labels, properties and health. --explain prints why each cluster was chosen or
skipped and which transformations fired on each object, in order.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if f.output != "yaml" && f.output != "json" {
				return fmt.Errorf("unknown output format %q: use yaml or json", f.output)
			}
			dir := dirArg(args)
			p, _, err := f.inv.load(cmd, dir, "", false)
			if err != nil {
				return err
			}
			opts := tmc.RenderOptions{Workspace: f.workspace, Cluster: f.cluster}
			if f.facts != "" {
				ff, err := tmc.ReadFactsFile(f.facts)
				if err != nil {
					return err
				}
				if err := ff.Check(f.facts, p); err != nil {
					return err
				}
				opts.Facts = ff
			}
			res, err := (&tmc.Repo{Policies: p}).Render(cmd.Context(), opts)
			var list tmc.ErrorList
			if errors.As(err, &list) {
				printErrors(cmd.ErrOrStderr(), list)
				return &exitCodeError{code: exitError, silent: true}
			}
			if err != nil {
				return err
			}
			w := bufio.NewWriter(cmd.OutOrStdout())
			defer w.Flush()
			switch {
			case f.output == "json":
				return writeRenderJSON(w, res)
			case f.explain:
				return writeExplain(w, res)
			}
			return writeRenderYAML(w, res)
		},
	}
	cmd.Flags().StringVar(&f.workspace, "workspace", "", "render only this workspace")
	cmd.Flags().StringVar(&f.cluster, "cluster", "", "render only for this cluster")
	cmd.Flags().StringVarP(&f.output, "output", "o", "yaml", "output format: yaml or json")
	cmd.Flags().StringVar(&f.facts, "facts", "", "YAML file of observed cluster facts by cluster name")
	cmd.Flags().BoolVar(&f.explain, "explain", false, "explain placement and transformations instead of printing objects")
	f.inv.add(cmd, true)
	return cmd
}

func dirArg(args []string) string {
	if len(args) == 1 {
		return args[0]
	}
	return "."
}

func printErrors(w io.Writer, list tmc.ErrorList) {
	for _, e := range list {
		fmt.Fprintln(w, e.Error())
	}
	fmt.Fprintf(w, "%d %s\n", len(list), plural(len(list), "error", "errors"))
}

func writeRenderYAML(w io.Writer, res *tmc.Rendered) error {
	first := true
	for _, ws := range res.Workspaces {
		for _, c := range ws.Clusters {
			for i, o := range c.Objects {
				if !first {
					fmt.Fprintln(w, "---")
				}
				first = false
				if i == 0 {
					fmt.Fprintf(w, "# workspace: %s/%s\n# cluster: %s\n", ws.LogicalCluster, ws.Name, c.Name)
				}
				s, err := o.Node.String()
				if err != nil {
					return fmt.Errorf("%s: %w", o.ID.On(c.Name), err)
				}
				io.WriteString(w, s)
			}
		}
	}
	return nil
}

type renderJSON struct {
	FormatVersion string         `json:"formatVersion"`
	Workspaces    []renderJSONWS `json:"workspaces"`
}

type renderJSONWS struct {
	Name           string                  `json:"name"`
	LogicalCluster string                  `json:"logicalCluster"`
	Placement      []tmc.PlacementDecision `json:"placement"`
	Clusters       []renderJSONCluster     `json:"clusters"`
}

type renderJSONCluster struct {
	Name     string               `json:"name"`
	Policies []tmc.PolicyDecision `json:"policies,omitempty"`
	Objects  []renderJSONObject   `json:"objects"`
}

type renderJSONObject struct {
	*tmc.RenderedObject
	Manifest json.RawMessage `json:"object"`
}

func writeRenderJSON(w io.Writer, res *tmc.Rendered) error {
	out := renderJSON{FormatVersion: renderFormatVersion, Workspaces: []renderJSONWS{}}
	for _, ws := range res.Workspaces {
		jw := renderJSONWS{Name: ws.Name, LogicalCluster: ws.LogicalCluster, Placement: ws.Placement, Clusters: []renderJSONCluster{}}
		for _, c := range ws.Clusters {
			jc := renderJSONCluster{Name: c.Name, Policies: c.Policies, Objects: []renderJSONObject{}}
			for _, o := range c.Objects {
				raw, err := o.Node.MarshalJSON()
				if err != nil {
					return fmt.Errorf("%s: %w", o.ID.On(c.Name), err)
				}
				jc.Objects = append(jc.Objects, renderJSONObject{RenderedObject: o, Manifest: raw})
			}
			jw.Clusters = append(jw.Clusters, jc)
		}
		out.Workspaces = append(out.Workspaces, jw)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

func writeExplain(w io.Writer, res *tmc.Rendered) error {
	for i, ws := range res.Workspaces {
		if i > 0 {
			fmt.Fprintln(w)
		}
		fmt.Fprintf(w, "workspace %s/%s\n", ws.LogicalCluster, ws.Name)
		fmt.Fprintln(w, "  placement:")
		width := 0
		for _, d := range ws.Placement {
			width = max(width, len(d.Cluster))
		}
		for _, d := range ws.Placement {
			verdict := "skipped "
			if d.Selected {
				verdict = "selected"
			}
			fmt.Fprintf(w, "    %-*s  %s  %s\n", width, d.Cluster, verdict, strings.Join(d.Reasons, "; "))
			if d.Inventory != "" {
				fmt.Fprintf(w, "    %-*s            %s\n", width, "", d.Inventory)
			}
			if d.FactsError != nil {
				fmt.Fprintf(w, "    %-*s            facts could not be observed: %s\n", width, "", d.FactsError)
			}
		}
		for _, c := range ws.Clusters {
			fmt.Fprintf(w, "  cluster %s:\n", c.Name)
			for _, cr := range ws.Charts {
				if cr.Cluster != c.Name {
					continue
				}
				kv := cr.KubeVersion
				if kv == "" {
					kv = "Helm's default"
				}
				vals, _ := json.Marshal(cr.Values)
				fmt.Fprintf(w, "    chart %s (sha256 %s…) as release %s in %s, Kubernetes %s: %d objects\n", cr.Source, cr.Digest[:12], cr.Release, cr.Namespace, kv, cr.Objects)
				fmt.Fprintf(w, "      values: %s\n", vals)
				for _, a := range cr.ClusterValues {
					writeApplied(w, fmt.Sprintf("      clusterValues[%d]", a.Index), a)
				}
				for _, d := range cr.Dropped {
					fmt.Fprintf(w, "      dropped test hook %s\n", d)
				}
			}
			for _, pd := range c.Policies {
				verdict := "does not act"
				if pd.Applies {
					verdict = "acts"
				}
				fmt.Fprintf(w, "    policy %s %s: %s\n", pd.Policy, verdict, pd.Reason)
			}
			for _, o := range c.Objects {
				name := o.ID.String()
				if o.ID != o.SourceID {
					name = o.SourceID.String() + " -> " + o.ID.String()
				}
				fmt.Fprintf(w, "    %s  (%s)\n", name, o.Source)
				for n, a := range o.Transformations {
					writeApplied(w, fmt.Sprintf("      %d. %s[%d]", n+1, a.Policy, a.Index), a)
				}
			}
		}
	}
	return nil
}

// writeApplied explains one transformation that acted or was skipped.
func writeApplied(w io.Writer, head string, a tmc.Applied) {
	fmt.Fprintf(w, "%s %s %s", head, a.Type, a.Path)
	if a.Value != "" {
		fmt.Fprintf(w, " = %s", a.Value)
	}
	fmt.Fprintf(w, ": %s", a.Effect)
	if a.Conditional != "" {
		parts := make([]string, len(a.Facts))
		for k, f := range a.Facts {
			parts[k] = fmt.Sprintf("%s=%v", f.Path, f.Value)
		}
		fmt.Fprintf(w, " (when `%s`; %s)", a.Conditional, strings.Join(parts, ", "))
	}
	fmt.Fprintln(w)
}
