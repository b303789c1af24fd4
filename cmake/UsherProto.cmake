# usher_proto_library(<target> <proto files relative to protos/>...)
# Runs protoc-c on each file into the build tree and builds them as a static library.
# Nothing generated is committed.
function(usher_proto_library target)
  set(out_dir ${CMAKE_BINARY_DIR}/gen)
  set(sources)
  foreach(proto ${ARGN})
    get_filename_component(abs ${proto} ABSOLUTE BASE_DIR ${USHER_PROTO_ROOT})
    string(REGEX REPLACE "\\.proto$" "" stem ${proto})
    set(c ${out_dir}/${stem}.pb-c.c)
    set(h ${out_dir}/${stem}.pb-c.h)
    add_custom_command(
      OUTPUT ${c} ${h}
      COMMAND ${CMAKE_COMMAND} -E make_directory ${out_dir}
      COMMAND ${PROTOC_C} --proto_path=${USHER_PROTO_ROOT} --c_out=${out_dir} ${abs}
      DEPENDS ${abs}
      COMMENT "protoc-c ${proto}"
      VERBATIM)
    list(APPEND sources ${c})
  endforeach()
  add_library(${target} STATIC ${sources})
  target_include_directories(${target} PUBLIC ${out_dir})
  target_link_libraries(${target} PUBLIC PkgConfig::PROTOBUF_C)
  set_target_properties(${target} PROPERTIES POSITION_INDEPENDENT_CODE ON)
endfunction()
