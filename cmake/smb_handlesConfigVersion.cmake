# Version file of the smb-handles CMake package (see smb_handlesConfig.cmake).
#
# PACKAGE_VERSION must equal `version` in Cargo.toml: scripts/test-install.sh
# fails when they differ. Compatibility follows Cargo's semver rules, which
# are also the shared library's SONAME (libsmb_handles.so.0.1 for 0.1.x):
# a request for X.Y is met by X.Y.z and later X.* when X >= 1, and only by
# 0.Y.* when X is 0. An EXACT request needs the same X.Y.Z.

set(PACKAGE_VERSION "0.1.0")

set(PACKAGE_VERSION_COMPATIBLE FALSE)
set(PACKAGE_VERSION_EXACT FALSE)

if(NOT PACKAGE_FIND_VERSION)
  set(PACKAGE_VERSION_COMPATIBLE TRUE)
else()
  string(REPLACE "." ";" _smbh_have "${PACKAGE_VERSION}")
  list(GET _smbh_have 0 _smbh_have_major)
  list(GET _smbh_have 1 _smbh_have_minor)
  if(PACKAGE_FIND_VERSION_MAJOR EQUAL _smbh_have_major
     AND NOT PACKAGE_VERSION VERSION_LESS PACKAGE_FIND_VERSION)
    if(_smbh_have_major GREATER 0 OR PACKAGE_FIND_VERSION_MINOR EQUAL _smbh_have_minor)
      set(PACKAGE_VERSION_COMPATIBLE TRUE)
    endif()
  endif()
  if(PACKAGE_FIND_VERSION VERSION_EQUAL PACKAGE_VERSION)
    set(PACKAGE_VERSION_EXACT TRUE)
  endif()
  unset(_smbh_have)
  unset(_smbh_have_major)
  unset(_smbh_have_minor)
endif()

