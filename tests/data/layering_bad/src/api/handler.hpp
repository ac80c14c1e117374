#pragma once
#include "core/bad.hpp"
