# CMake package of smb-handles, installed by `cargo cinstall` (or
# scripts/install-c.sh) into <prefix>/share/cmake/smb_handles/. Use it with
#
#     find_package(smb_handles 0.1 REQUIRED)
#     target_link_libraries(my_server PRIVATE smb_handles::smb_handles)
#
# Imported targets:
#   smb_handles::shared       libsmb_handles.so (SONAME libsmb_handles.so.0.1)
#   smb_handles::static       libsmb_handles.a, with the system libraries a
#                             Rust static library needs (threads, dl, m, rt)
#   smb_handles::smb_handles  the shared library, or the static one when
#                             SMB_HANDLES_USE_STATIC is ON or no shared
#                             library is installed
# Each carries the include directory (smb_handles.h for C, smb_handles.hpp
# for C++17). Sets smb_handles_INCLUDE_DIR, smb_handles_SHARED_LIBRARY and
# smb_handles_STATIC_LIBRARY; find_package sets smb_handles_VERSION from
# smb_handlesConfigVersion.cmake.
#
# The file is relocatable: it finds the prefix from its own location and
# the libraries in <prefix>/lib, lib64 or lib/<multiarch> (cargo-c picks
# lib/<multiarch> on Debian).

cmake_minimum_required(VERSION 3.12)

get_filename_component(_smbh_prefix "${CMAKE_CURRENT_LIST_DIR}/../../.." ABSOLUTE)

find_path(smb_handles_INCLUDE_DIR smb_handles.h
  PATHS "${_smbh_prefix}/include" NO_DEFAULT_PATH)

set(_smbh_libdirs "${_smbh_prefix}/lib")
if(CMAKE_LIBRARY_ARCHITECTURE)
  list(INSERT _smbh_libdirs 0 "${_smbh_prefix}/lib/${CMAKE_LIBRARY_ARCHITECTURE}")
endif()
list(APPEND _smbh_libdirs "${_smbh_prefix}/lib64")

find_library(smb_handles_SHARED_LIBRARY
  NAMES "${CMAKE_SHARED_LIBRARY_PREFIX}smb_handles${CMAKE_SHARED_LIBRARY_SUFFIX}"
  PATHS ${_smbh_libdirs} NO_DEFAULT_PATH)
find_library(smb_handles_STATIC_LIBRARY
  NAMES "${CMAKE_STATIC_LIBRARY_PREFIX}smb_handles${CMAKE_STATIC_LIBRARY_SUFFIX}"
  PATHS ${_smbh_libdirs} NO_DEFAULT_PATH)

set(smb_handles_FOUND TRUE)
if(NOT CMAKE_STATIC_LIBRARY_SUFFIX)
  set(smb_handles_FOUND FALSE)
  set(smb_handles_NOT_FOUND_MESSAGE
    "enable C or CXX (project(... LANGUAGES C)) before find_package(smb_handles)")
elseif(NOT smb_handles_INCLUDE_DIR)
  set(smb_handles_FOUND FALSE)
  set(smb_handles_NOT_FOUND_MESSAGE "smb_handles.h not found in ${_smbh_prefix}/include")
elseif(NOT smb_handles_SHARED_LIBRARY AND NOT smb_handles_STATIC_LIBRARY)
  set(smb_handles_FOUND FALSE)
  set(smb_handles_NOT_FOUND_MESSAGE "libsmb_handles not found in ${_smbh_libdirs}")
endif()

if(smb_handles_FOUND)
  if(smb_handles_SHARED_LIBRARY AND NOT TARGET smb_handles::shared)
    add_library(smb_handles::shared SHARED IMPORTED)
    set_target_properties(smb_handles::shared PROPERTIES
      IMPORTED_LOCATION "${smb_handles_SHARED_LIBRARY}"
      INTERFACE_INCLUDE_DIRECTORIES "${smb_handles_INCLUDE_DIR}")
  endif()
  if(smb_handles_STATIC_LIBRARY AND NOT TARGET smb_handles::static)
    include(CMakeFindDependencyMacro)
    set(THREADS_PREFER_PTHREAD_FLAG ON)
    find_dependency(Threads)
    add_library(smb_handles::static STATIC IMPORTED)
    set_target_properties(smb_handles::static PROPERTIES
      IMPORTED_LOCATION "${smb_handles_STATIC_LIBRARY}"
      IMPORTED_LINK_INTERFACE_LANGUAGES "C"
      INTERFACE_INCLUDE_DIRECTORIES "${smb_handles_INCLUDE_DIR}"
      INTERFACE_LINK_LIBRARIES "Threads::Threads;${CMAKE_DL_LIBS};m;rt")
  endif()
  if(NOT TARGET smb_handles::smb_handles)
    add_library(smb_handles::smb_handles INTERFACE IMPORTED)
    if(TARGET smb_handles::shared AND NOT SMB_HANDLES_USE_STATIC)
      set_target_properties(smb_handles::smb_handles PROPERTIES
        INTERFACE_LINK_LIBRARIES smb_handles::shared)
    elseif(TARGET smb_handles::static)
      set_target_properties(smb_handles::smb_handles PROPERTIES
        INTERFACE_LINK_LIBRARIES smb_handles::static)
    else()
      set(smb_handles_FOUND FALSE)
      set(smb_handles_NOT_FOUND_MESSAGE
        "SMB_HANDLES_USE_STATIC is ON but libsmb_handles.a is not installed")
    endif()
  endif()
endif()

unset(_smbh_prefix)
unset(_smbh_libdirs)
