// cxx_vtables.cc: a heap of polymorphic C++ objects for the typer's vtable
// test (tests/integration/pymalloc_cxx.sh).  Prints "expect CLASS N" for
// each class and "obj ADDRESS USABLE_SIZE CLASS" for every object it keeps
// (the ground truth), then abort()s for a core.
#include <cstdio>
#include <cstdlib>
#include <malloc.h>
#include <vector>

namespace hw
{
struct Base {
	virtual ~Base()
	{
	}
	virtual long f()
	{
		return x[0];
	}
	long x[3] = {1, 2, 3};
};
struct Derived : Base {
	long f() override
	{
		return y;
	}
	long y = 4;
};
template <typename T> struct Box : Base {
	long f() override
	{
		return (long)v;
	}
	T v{};
};
} // namespace hw

struct Left {
	virtual ~Left()
	{
	}
	long a = 5;
};
struct Right {
	virtual ~Right()
	{
	}
	long b = 6;
};
struct Both : Left, Right {
	long c = 7;
};

template <typename T> static void make(const char *name, int n, std::vector<void *> &keep)
{
	std::printf("expect %s %d\n", name, n);
	for (int i = 0; i < n; i++) {
		T *o = new T();
		keep.push_back(o);
		std::printf("obj %p %zu %s\n", (void *)o, malloc_usable_size(o), name);
	}
}

int main()
{
	std::vector<void *> keep;
	keep.reserve(1000);
	make<hw::Base>("hw::Base", 11, keep);
	make<hw::Derived>("hw::Derived", 23, keep);
	make<hw::Box<int>>("hw::Box<int>", 7, keep);
	make<Both>("Both", 5, keep);
	// Not objects: zeros, and a pointer into code rather than a vtable.
	for (int i = 0; i < 3; i++) {
		void **p = (void **)std::calloc(6, sizeof(void *));
		if (i == 1)
			p[0] = (void *)&main;
		keep.push_back(p);
		std::printf("obj %p %zu ?\n", (void *)p, malloc_usable_size(p));
	}
	std::fflush(stdout);
	std::abort();
}
