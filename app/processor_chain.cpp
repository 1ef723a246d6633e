#include "app/processor_chain.h"

namespace ktrail::app {

Result<std::vector<std::unique_ptr<Processor>>> make_processor_chain(
    const ServeOptions& /*options*/) {
  std::vector<std::unique_ptr<Processor>> chain;
  return chain;
}

}  // namespace ktrail::app
