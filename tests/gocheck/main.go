// Command gocheck answers, one input line at a time, what Go's own packages
// say of module paths and image references, so that the tests can compare
// the template's rules with the real implementations.
//
// Input lines are "module PATH" or "image NAME"; each output line is
// "ok DETAIL" or "bad REASON".
package main

import (
	"bufio"
	"fmt"
	"os"
	"strings"

	"github.com/distribution/reference"
	"golang.org/x/mod/module"
)

func main() {
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 1<<20), 1<<20)
	out := bufio.NewWriter(os.Stdout)
	defer out.Flush()
	for in.Scan() {
		kind, value, _ := strings.Cut(in.Text(), " ")
		fmt.Fprintln(out, check(kind, value))
	}
}

func check(kind, value string) string {
	switch kind {
	case "module":
		if err := module.CheckPath(value); err != nil {
			return "bad " + oneLine(err.Error())
		}
		return "ok"
	case "image":
		named, err := reference.ParseNormalizedNamed(value)
		if err != nil {
			return "bad " + oneLine(err.Error())
		}
		return "ok " + reference.Domain(named)
	}
	return "bad unknown kind " + kind
}

func oneLine(s string) string {
	return strings.ReplaceAll(s, "\n", " ")
}
