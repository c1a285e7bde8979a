// SPDX-License-Identifier: Apache-2.0
// cxx_prog.cc: allocations made inside libstdc++ (std::string's growth,
// std::thread's start), through a std::sort comparator and recursion, built
// -O2 -fomit-frame-pointer against Debian's arm64 libstdc++ (no frame
// pointers either): tests/aarch64/oracle.py counts complete stacks.
#include <algorithm>
#include <map>
#include <string>
#include <thread>
#include <vector>

static std::map<int, std::string> keep;

__attribute__((noinline)) static std::string grow(int depth, int n)
{
	if (depth > 0)
		return grow(depth - 1, n) + "x";
	std::string s;
	for (int i = 0; i < n; i++)
		s.append(1, static_cast<char>('a' + i % 26));
	return s;
}

__attribute__((noinline)) void work(int seed)
{
	std::vector<std::string> v;
	for (int i = 0; i < 200; i++)
		v.push_back(grow((i + seed) % 9, 20 + (i * 7) % 60));
	std::sort(v.begin(), v.end(), [](const std::string &a, const std::string &b) {
		std::string ka = a + "#", kb = b + "#"; // allocates in the comparator
		return ka < kb;
	});
	keep[seed] = v[0];
}

int main()
{
	work(1);
	std::thread t(work, 2);
	t.join();
	return keep.size() == 2 ? 0 : 1;
}
