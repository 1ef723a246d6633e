// ktrail: a Kubernetes audit-log and event-stream pipeline. main() only dispatches.
#include "app/cli.h"

int main(int argc, char** argv) { return ktrail::app::run_cli(argc, argv); }
