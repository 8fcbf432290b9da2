# same_tokens.cmake — runs two builds of the generation example with the same
# arguments and fails unless both succeed and generate the same tokens.
#   cmake -DA=PROGRAM -DB=PROGRAM "-DARGS=-n;20;5;17" -P same_tokens.cmake
foreach(p A B)
  execute_process(COMMAND ${${p}} ${ARGS} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  message("${out}${err}")
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${${p}} exited with ${rc}")
  endif()
  string(REGEX MATCH "generated \\([0-9]+ tokens\\):[ 0-9]*" line_${p} "${out}")
  if(NOT line_${p})
    message(FATAL_ERROR "${${p}} printed no generated tokens")
  endif()
endforeach()
if(NOT line_A STREQUAL line_B)
  message(FATAL_ERROR "the two builds generate different tokens:\n  ${line_A}\n  ${line_B}")
endif()
message("same tokens: ${line_A}")
