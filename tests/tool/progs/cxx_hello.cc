// SPDX-License-Identifier: Apache-2.0
// cxx_hello.cc: a plain C++ program (iostream, std::string, new/delete) that
// leaks nothing of its own: with `check --suppress default` its leaked figure
// must be 0 (libstdc++'s emergency pool and stdio buffers are suppressed).
#include <iostream>
#include <string>
#include <vector>

int main(int argc, char **)
{
	std::vector<std::string> words;
	for (int i = 0; i < 20; i++)
		words.push_back(std::string(40 + i, 'x'));
	int *n = new int[argc];
	delete[] n;
	std::cout << words.size() << " words\n";
	return 0;
}
