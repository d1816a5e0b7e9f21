// Command grafana-dashboard reads Grafana dashboards into the typed model of
// the Grafana Foundation SDK, strictly: a field the model does not know, a
// value of the wrong type, a missing required field or a broken constraint is
// an error. It prints the Prometheus queries of every panel as the model read
// them, one JSON array for all the files given, for the checks to run.
package main

import (
	"encoding/json"
	"fmt"
	"os"

	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/cog/plugins"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/prometheus"
)

// query is one query of one panel.
type query struct {
	File  string `json:"file"`
	Panel string `json:"panel"`
	RefID string `json:"ref"`
	Expr  string `json:"expr"`
}

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: grafana-dashboard DASHBOARD.json...")
		os.Exit(2)
	}
	plugins.RegisterDefaultPlugins()
	queries := []query{}
	for _, path := range os.Args[1:] {
		read, err := read(path)
		if err != nil {
			fmt.Fprintf(os.Stderr, "%s: %v\n", path, err)
			os.Exit(1)
		}
		queries = append(queries, read...)
	}
	if err := json.NewEncoder(os.Stdout).Encode(queries); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func read(path string) ([]query, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var strict dashboard.Dashboard
	if err := failed(strict.UnmarshalJSONStrict(raw)); err != nil {
		return nil, err
	}
	// The strict reading reports every problem, but keeps no panel it read
	// without one (a panel's empty list of errors comes back typed, and is
	// taken for an error): the panels are read again from the same bytes,
	// which it has found right.
	var board dashboard.Dashboard
	if err := json.Unmarshal(raw, &board); err != nil {
		return nil, err
	}
	if err := failed(board.Validate()); err != nil {
		return nil, err
	}
	var queries []query
	for _, item := range board.Panels {
		panels := []dashboard.Panel{}
		if item.Panel != nil {
			panels = append(panels, *item.Panel)
		}
		if item.RowPanel != nil {
			panels = append(panels, item.RowPanel.Panels...)
		}
		for _, panel := range panels {
			title := ""
			if panel.Title != nil {
				title = *panel.Title
			}
			for i, target := range panel.Targets {
				prom, ok := target.(*prometheus.Dataquery)
				if !ok {
					return nil, fmt.Errorf("panel %q: query %d is a %T, not a Prometheus query", title, i, target)
				}
				ref := ""
				if prom.RefId != nil {
					ref = *prom.RefId
				}
				queries = append(queries, query{File: path, Panel: title, RefID: ref, Expr: prom.Expr})
			}
		}
	}
	return queries, nil
}

// failed is err, or nil where err is an empty list of errors: the model's
// methods return their list typed even when it is empty.
func failed(err error) error {
	if list, ok := err.(cog.BuildErrors); ok && len(list) == 0 {
		return nil
	}
	return err
}
