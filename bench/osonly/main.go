// Command osonly reads one environment variable and returns: the cost of
// the os package (its init, the environment's copy, a larger binary) over
// an empty program, which any Go Pipes port pays before it does any work.
package main

import "os"

func main() { _, _ = os.LookupEnv("DAGSTER_PIPES_CONTEXT") }
